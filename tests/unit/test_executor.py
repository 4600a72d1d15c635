"""The executor as a table: a flow and what its workers report go in, task-run states come out.

No thread, no store, no worker: ``executor_harness`` feeds the executor the events
the runner's loop would (attempt results, child executions ending, timers, kill,
resume, restart, recovery) and reads the states it leaves. Every flowable type,
retries, errors/finally, allowFailure, kill and restart have rows here; the
end-to-end flows in tests/integration check the same semantics through the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.unit.executor_harness import Harness, Outcome, make_flow

S, W, F, K, SK, P, R = "SUCCESS", "WARNING", "FAILED", "KILLED", "SKIPPED", "PAUSED", "RUNNING"


def log(task_id: str, **extra: Any) -> str:
    props = "".join(f", {k}: {v}" for k, v in extra.items())
    return f"{{id: {task_id}, type: log, message: {task_id}{props}}}"


@dataclass
class Case:
    name: str
    tasks: str
    expect: dict[str, str]
    script: dict[str, list[Outcome]] = field(default_factory=dict)
    extra: str = ""  # other top-level keys of the flow (errors, finally, afterExecution...)


CASES = [
    # --- sequential, working_directory ---------------------------------------------------------------
    Case("sequential runs in order", f"""
        - id: seq
          type: sequential
          tasks: [{log("a")}, {log("b")}]
        - {log("c")}
    """, {"execution": S, "seq": S, "a": S, "b": S, "c": S}),
    Case("a failure stops the sequence and the flow", f"""
        - id: seq
          type: io.kestra.plugin.core.flow.Sequential
          tasks: [{log("a")}, {log("b")}]
        - {log("c")}
    """, {"execution": F, "seq": F, "a": F}, script={"a": [F]}),
    Case("working_directory is a sequence", f"""
        - id: wd
          type: io.kestra.plugin.core.flow.WorkingDirectory
          tasks: [{log("a")}, {log("b")}]
    """, {"execution": W, "wd": W, "a": S, "b": W}, script={"b": [W]}),
    # --- parallel -------------------------------------------------------------------------------------
    Case("parallel runs every child", f"""
        - id: par
          type: parallel
          tasks: [{log("a")}, {log("b")}, {log("c")}]
    """, {"execution": S, "par": S, "a": S, "b": S, "c": S}),
    Case("parallel with a limit starts no more after a failure", f"""
        - id: par
          type: parallel
          concurrent: 1
          tasks: [{log("a")}, {log("b")}, {log("c")}]
    """, {"execution": F, "par": F, "a": S, "b": F}, script={"b": [F]}),
    # --- if, switch ----------------------------------------------------------------------------------
    Case("if takes then", f"""
        - id: check
          type: if
          condition: "{{{{ 1 < 2 }}}}"
          then: [{log("yes")}]
          else: [{log("no")}]
    """, {"execution": S, "check": S, "yes": S}),
    Case("if takes else", f"""
        - id: check
          type: io.kestra.plugin.core.flow.If
          condition: "false"
          then: [{log("yes")}]
          else: [{log("no")}]
    """, {"execution": S, "check": S, "no": S}),
    Case("if without else on false does nothing", f"""
        - id: check
          type: if
          condition: false
          then: [{log("yes")}]
    """, {"execution": S, "check": S}),
    Case("if whose condition cannot be rendered fails", f"""
        - id: check
          type: if
          condition: "{{{{ nope.nope }}}}"
          then: [{log("yes")}]
    """, {"execution": F, "check": F}),
    Case("switch takes the matching case", f"""
        - id: sw
          type: switch
          value: "{{{{ 40 + 2 }}}}"
          cases:
            "42": [{log("answer")}]
            other: [{log("other")}]
          defaults: [{log("fallback")}]
    """, {"execution": S, "sw": S, "answer": S}),
    Case("switch falls back to defaults", f"""
        - id: sw
          type: io.kestra.core.tasks.flows.Switch
          value: zzz
          cases:
            a: [{log("a")}]
          defaults: [{log("fallback")}]
    """, {"execution": S, "sw": S, "fallback": S}),
    # --- for_each -------------------------------------------------------------------------------------
    Case("for_each runs its tasks once per value", f"""
        - id: loop
          type: for_each
          values: [a, b, c]
          tasks: [{log("inner")}]
    """, {"execution": S, "loop": S, "inner[a]": S, "inner[b]": S, "inner[c]": S}),
    Case("for_each stops at a failed iteration (one at a time)", f"""
        - id: loop
          type: io.kestra.plugin.core.flow.ForEach
          values: '["a", "b", "c"]'
          tasks: [{log("inner")}]
    """, {"execution": F, "loop": F, "inner[a]": S, "inner[b]": F}, script={"inner[b]": [F]}),
    Case("EachParallel starts every iteration", f"""
        - id: loop
          type: io.kestra.plugin.core.flow.EachParallel
          value: [1, 2]
          tasks:
            - id: seq
              type: sequential
              tasks: [{log("deep")}]
    """, {"execution": W, "loop": W, "seq[1]": S, "seq[2]": W, "deep[1]": S, "deep[2]": W}, script={"deep[2]": [W]}),
    Case("for_each over something that is not a list fails", f"""
        - id: loop
          type: for_each
          values: "not a list"
          tasks: [{log("inner")}]
    """, {"execution": F, "loop": F}),
    # --- dag -------------------------------------------------------------------------------------------
    Case("dag follows its dependencies", f"""
        - id: graph
          type: dag
          tasks:
            - task: {log("extract")}
            - task: {log("transform")}
              dependsOn: [extract]
            - task: {log("report")}
              dependsOn: [transform, side]
            - task: {log("side")}
    """, {"execution": S, "graph": S, "extract": S, "side": S, "transform": S, "report": S}),
    Case("dag starts nothing that depends on a failure", f"""
        - id: graph
          type: io.kestra.plugin.core.flow.Dag
          tasks:
            - task: {log("extract")}
            - task: {log("transform")}
              dependsOn: [extract]
    """, {"execution": F, "graph": F, "extract": F}, script={"extract": [F]}),
    # --- subflow --------------------------------------------------------------------------------------
    Case("subflow ends with its child", """
        - id: call
          type: subflow
          namespace: test.executor
          flowId: child
          inputs: {x: "{{ 1 + 1 }}"}
    """, {"execution": S, "call": S}, script={"call": [(S, {"result": 4})]}),
    Case("subflow fails with a failed child", """
        - id: call
          type: io.kestra.plugin.core.flow.Subflow
          namespace: test.executor
          flowId: child
    """, {"execution": F, "call": F}, script={"call": [F]}),
    Case("subflow with transmitFailed false succeeds anyway", """
        - id: call
          type: subflow
          namespace: test.executor
          flowId: child
          transmitFailed: false
    """, {"execution": S, "call": S}, script={"call": [F]}),
    Case("subflow whose child cannot start fails", """
        - id: call
          type: subflow
          namespace: test.executor
          flowId: child
    """, {"execution": F, "call": F}, script={"call": ["ERROR"]}),
    # --- pause ----------------------------------------------------------------------------------------
    Case("pause with a duration resumes by itself", f"""
        - id: wait
          type: pause
          pauseDuration: PT1S
        - {log("after")}
    """, {"execution": S, "wait": S, "after": S}),
    Case("pause timeout with behavior WARN ends WARNING", f"""
        - id: wait
          type: io.kestra.plugin.core.flow.Pause
          timeout: PT1S
          behavior: WARN
        - {log("after")}
    """, {"execution": W, "wait": W, "after": S}),
    Case("pause without timers stays paused", f"""
        - id: wait
          type: pause
        - {log("after")}
    """, {"execution": P, "wait": P}),
    # --- retries --------------------------------------------------------------------------------------
    Case("retry until an attempt succeeds", f"""
        - {log("flaky", retry="{type: constant, interval: PT1S, maxAttempts: 3}")}
    """, {"execution": S, "flaky": S}, script={"flaky": [F, F, S]}),
    Case("warningOnRetry ends WARNING after a retry", f"""
        - {log("flaky", retry="{type: exponential, interval: PT1S, maxAttempt: 3, warningOnRetry: true}")}
    """, {"execution": W, "flaky": W}, script={"flaky": [F, S]}),
    Case("retries exhausted fail", f"""
        - {log("flaky", retry="{type: constant, interval: PT1S, maxAttempts: 2}")}
        - {log("never")}
    """, {"execution": F, "flaky": F}, script={"flaky": [F, F, S]}),
    # --- allowFailure, disabled, runIf ------------------------------------------------------------------
    Case("allowFailure turns a failure into WARNING and goes on", f"""
        - {log("fragile", allowFailure="true")}
        - {log("next")}
    """, {"execution": W, "fragile": W, "next": S}, script={"fragile": [F]}),
    Case("allowFailure on a container covers its children", f"""
        - id: par
          type: parallel
          allowFailure: true
          tasks: [{log("a")}, {log("b")}]
        - {log("next")}
    """, {"execution": W, "par": W, "a": F, "b": S, "next": S}, script={"a": [F]}),
    Case("disabled and runIf false are SKIPPED", f"""
        - {log("off", disabled="true")}
        - {log("maybe", runIf='"{{ 1 > 2 }}"')}
        - {log("on")}
    """, {"execution": S, "off": SK, "maybe": SK, "on": S}),
    # --- errors, finally, afterExecution -------------------------------------------------------------------
    Case("a container's errors run after a failure, finally always", f"""
        - id: seq
          type: sequential
          tasks: [{log("a")}]
          errors: [{log("handle")}]
          finally: [{log("cleanup")}]
    """, {"execution": F, "seq": F, "a": F, "handle": S, "cleanup": S}, script={"a": [F]}),
    Case("a container's errors do not run on success", f"""
        - id: seq
          type: sequential
          tasks: [{log("a")}]
          errors: [{log("handle")}]
          finally: [{log("cleanup")}]
    """, {"execution": S, "seq": S, "a": S, "cleanup": S}),
    Case("the flow's errors and finally", f"""
        - {log("a")}
    """, {"execution": F, "a": F, "alert": S, "bye": S}, script={"a": [F]},
         extra=f"errors: [{log('alert')}]\nfinally: [{log('bye')}]\n"),
    Case("a failing finally fails a successful flow", f"""
        - {log("a")}
    """, {"execution": F, "a": S, "bye": F}, script={"bye": [F]}, extra=f"finally: [{log('bye')}]\n"),
    Case("afterExecution runs once the state is decided", f"""
        - {log("a")}
    """, {"execution": S, "a": S, "notify": S}, extra=f"afterExecution: [{log('notify')}]\n"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_executor_table(case: Case) -> None:
    harness = Harness(make_flow(case.tasks, case.extra), dict(case.script)).start()
    assert harness.states() == case.expect
    if case.expect["execution"] in ("SUCCESS", "WARNING", "FAILED", "KILLED"):
        assert harness.ended == 1, "the end is announced exactly once"


# --- rows that need more than one event ------------------------------------------------------------


def test_retry_attempts_are_kept_in_order() -> None:
    h = Harness(make_flow(f"- {log('flaky', retry='{type: constant, interval: PT2S, maxAttempts: 3}')}"), {"flaky": [F, F, S]}).start()
    assert h.attempts("flaky") == [F, F, S]
    assert [m for t, level, m in h.logs if level == "WARN"] == [
        "attempt 1 failed (flaky said FAILED); retrying in 2s", "attempt 2 failed (flaky said FAILED); retrying in 2s"]


def test_subflow_asks_for_its_child_with_rendered_inputs_and_keeps_its_outputs() -> None:
    flow = make_flow("""
        - id: call
          type: subflow
          namespace: test.executor
          flowId: child
          inheritLabels: true
          inputs: {x: "{{ 20 + 1 }}"}
          labels: {team: "{{ flow.id }}"}
    """, extra="labels: {env: prod}\n")
    h = Harness(flow, {"call": [(S, {"result": 4})]})
    h.st.execution.labels = {"env": "prod"}
    h.start()
    assert h.started_children == [{"task": "call", "flowId": "child", "inputs": {"x": 21}, "labels": {"env": "prod", "team": "table"}, "wait": True}]
    assert h.run("call").outputs == {"executionId": "child-of-call", "state": "SUCCESS", "outputs": {"result": 4}}


def test_resume_ends_a_pause_with_its_inputs() -> None:
    h = Harness(make_flow(f"- {{id: wait, type: pause}}\n- {log('after')}")).start()
    assert h.states() == {"execution": P, "wait": P}
    h.resume({"approved": True})
    assert h.states() == {"execution": S, "wait": S, "after": S}
    assert h.run("wait").outputs == {"onResume": {"approved": True}}


def test_kill_stops_running_attempts_and_child_executions() -> None:
    flow = make_flow(f"""
        - id: par
          type: parallel
          tasks:
            - {log("slow")}
            - id: call
              type: subflow
              namespace: test.executor
              flowId: child
            - {log("quick")}
    """)
    h = Harness(flow, {"slow": ["HOLD"], "call": ["HOLD"], "quick": ["KILL"]}).start()
    assert h.states() == {"execution": K, "par": K, "slow": K, "call": K, "quick": K}
    assert sorted(h.killed_attempts) == ["quick", "slow"] and h.killed_children == ["child-of-call"]
    assert h.ended == 1
    assert h.kill().ended == 1, "killing an ended execution changes nothing"


def test_a_late_result_after_a_kill_is_ignored() -> None:
    h = Harness(make_flow(f"- {log('slow')}"), {"slow": ["HOLD"]}).start()
    h.kill()
    tr = h.run("slow")
    from engine.model.state import State
    from engine.runtime.executor import WorkerOutcome

    h.apply(h.executor.on_result(h.st, tr.id, 0, WorkerOutcome(State.SUCCESS, {"late": True})))
    assert h.states() == {"execution": K, "slow": K} and tr.outputs is None


def test_restart_reruns_only_what_failed() -> None:
    flow = make_flow(f"""
        - {log("ok")}
        - id: loop
          type: for_each
          values: [a, b]
          tasks: [{log("inner")}]
        - {log("last")}
    """)
    h = Harness(flow, {"inner[b]": [F]}).start()
    assert h.states() == {"execution": F, "ok": S, "loop": F, "inner[a]": S, "inner[b]": F}
    h.restart({"inner[b]": [S]})
    assert h.states() == {"execution": S, "ok": S, "loop": S, "inner[a]": S, "inner[b]": S, "last": S}
    assert h.attempts("ok") == [S] and h.attempts("inner[a]") == [S], "successful task runs are kept"
    assert h.attempts("inner[b]") == [F, S], "the failed one gets a new attempt, its history kept"
    assert h.ended == 2


def test_restart_of_a_failed_subflow_starts_a_new_child() -> None:
    flow = make_flow("""
        - id: call
          type: subflow
          namespace: test.executor
          flowId: child
    """)
    h = Harness(flow, {"call": [F]}).start()
    assert h.states() == {"execution": F, "call": F}
    h.restart({"call": [S]})
    assert h.states() == {"execution": S, "call": S}
    assert len(h.started_children) == 2


def test_restart_of_a_pause_killed_while_paused_pauses_again() -> None:
    h = Harness(make_flow(f"- {{id: wait, type: pause}}\n- {log('after')}")).start()
    h.kill()
    assert h.states() == {"execution": K, "wait": K}
    h.restart()
    assert h.states() == {"execution": P, "wait": P}
    h.resume()
    assert h.states() == {"execution": S, "wait": S, "after": S}


def test_restart_is_refused_for_a_successful_execution() -> None:
    h = Harness(make_flow(f"- {log('a')}")).start()
    h.restart()
    assert h.states() == {"execution": S, "a": S} and h.ended == 1


def test_recovery_retries_a_lost_attempt_and_rearms_a_pause() -> None:
    flow = make_flow(f"""
        - id: par
          type: parallel
          tasks:
            - {log("lost")}
            - id: wait
              type: pause
              pauseDuration: PT5M
    """)
    h = Harness(flow, {"lost": ["HOLD"]}, clock_runs=False).start()
    assert h.states() == {"execution": P, "par": R, "lost": R, "wait": P}
    h.recover({"lost": [S]})
    assert h.attempts("lost") == [F, S], "the lost attempt is failed and a new one runs"
    assert h.states() == {"execution": S, "par": S, "lost": S, "wait": S}, "the pause's timer was set again and fired"
