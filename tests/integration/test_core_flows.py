"""End-to-end runs of flows on the embedded store: every core and flowable task type."""

from __future__ import annotations

import time
from textwrap import dedent

import pytest

from engine.model.inputs import InputError


def run(runner, yaml_text: str, inputs=None, timeout: float = 60):
    return runner.run(dedent(yaml_text), inputs or {}, timeout=timeout)


def runs_of(summary, task_id):
    return [tr for tr in summary["taskRuns"] if tr["taskId"] == task_id]


def state_of(summary, task_id):
    (tr,) = runs_of(summary, task_id)
    return tr["state"]


def test_log_return_output_values_and_flow_outputs(runner):
    s = run(runner, """
        id: basics
        namespace: test.core
        inputs:
          - id: n
            type: INT
            defaults: 3
        variables:
          greeting: "hi {{ inputs.n }}"
        tasks:
          - id: hello
            type: log
            message: "{{ vars.greeting }}"
          - id: double
            type: return
            format: "{{ inputs.n * 2 }}"
          - id: many
            type: io.kestra.plugin.core.output.OutputValues
            values:
              a: "{{ outputs.double.value }}"
              b: [1, 2]
        outputs:
          - id: result
            type: INT
            value: "{{ outputs.double.value + 1 }}"
    """, {"n": "5"})
    assert s["state"] == "SUCCESS"
    assert s["inputs"] == {"n": 5}
    assert runs_of(s, "double")[0]["outputs"] == {"value": 10}
    assert runs_of(s, "many")[0]["outputs"] == {"values": {"a": 10, "b": [1, 2]}}
    assert s["outputs"] == {"result": 11}
    logs = runner.logs(s["id"])
    assert any(log["message"] == "hi 5" and log["taskId"] == "hello" for log in logs)


def test_parallel_sleeps_run_at_the_same_time(runner):
    started = time.monotonic()
    s = run(runner, """
        id: par
        namespace: test.core
        tasks:
          - id: p
            type: parallel
            tasks:
              - {id: s1, type: sleep, duration: PT2S}
              - {id: s2, type: sleep, duration: PT2S}
              - {id: s3, type: sleep, duration: PT2S}
    """)
    elapsed = time.monotonic() - started
    assert s["state"] == "SUCCESS"
    assert elapsed < 5, f"{elapsed:.1f} s: one after the other would take 6 s"
    assert {tr["taskId"] for tr in s["taskRuns"]} == {"p", "s1", "s2", "s3"}


def test_parallel_concurrent_limit(runner):
    started = time.monotonic()
    s = run(runner, """
        id: par2
        namespace: test.core
        tasks:
          - id: p
            type: io.kestra.plugin.core.flow.Parallel
            concurrent: 1
            tasks:
              - {id: s1, type: sleep, duration: PT0.5S}
              - {id: s2, type: sleep, duration: PT0.5S}
    """)
    assert s["state"] == "SUCCESS"
    assert time.monotonic() - started >= 1.0
    s1, s2 = runs_of(s, "s1")[0], runs_of(s, "s2")[0]
    assert s2["startDate"] >= s1["endDate"]


def test_retry_fails_twice_then_succeeds(runner):
    s = run(runner, """
        id: flaky
        namespace: test.core
        tasks:
          - id: flaky
            type: python
            script: |
              import sys
              attempt = {{ taskrun.attemptsCount }}
              print("attempt", attempt)
              sys.exit(1 if attempt < 2 else 0)
            retry:
              type: constant
              interval: PT0.1S
              maxAttempt: 5
    """)
    assert s["state"] == "SUCCESS"
    (tr,) = runs_of(s, "flaky")
    assert len(tr["attempts"]) == 3
    assert [a["state"] for a in tr["attempts"]] == ["FAILED", "FAILED", "SUCCESS"]


def test_retry_exhausted_fails_and_warning_on_retry(runner):
    s = run(runner, """
        id: flaky2
        namespace: test.core
        tasks:
          - id: always
            type: fail
            retry: {type: exponential, interval: PT0.05S, maxAttempts: 3}
    """)
    assert s["state"] == "FAILED"
    assert len(runs_of(s, "always")[0]["attempts"]) == 3
    s = run(runner, """
        id: flaky3
        namespace: test.core
        tasks:
          - id: once
            type: python
            script: |
              import sys
              sys.exit(1 if {{ taskrun.attemptsCount }} == 0 else 0)
            retry: {type: constant, interval: PT0.05S, maxAttempts: 2, warningOnRetry: true}
    """)
    assert s["state"] == "WARNING"
    assert runs_of(s, "once")[0]["state"] == "WARNING"


def test_timeout_kills_and_runs_errors(runner):
    started = time.monotonic()
    s = run(runner, """
        id: slow
        namespace: test.core
        tasks:
          - id: slow
            type: shell
            commands: ["sleep 30"]
            timeout: PT1S
          - id: never
            type: log
            message: not reached
        errors:
          - id: on-error
            type: log
            message: "handled {{ execution.id }}"
    """)
    assert time.monotonic() - started < 4
    assert s["state"] == "FAILED"
    (slow,) = runs_of(s, "slow")
    assert slow["state"] == "FAILED"
    from datetime import datetime

    ran = datetime.fromisoformat(slow["endDate"]) - datetime.fromisoformat(slow["startDate"])
    assert ran.total_seconds() < 2, ran  # killed at PT1S, not after the 30 s sleep
    assert "Timed out" in (slow["attempts"][-1].get("message") or "")
    assert runs_of(s, "never") == []
    assert state_of(s, "on-error") == "SUCCESS"


def test_finally_always_runs_and_allow_failure_gives_warning(runner):
    s = run(runner, """
        id: fin
        namespace: test.core
        tasks:
          - id: boom
            type: fail
            allowFailure: true
            message: expected
          - id: after
            type: log
            message: still running
        finally:
          - id: cleanup
            type: log
            message: cleanup
    """)
    assert s["state"] == "WARNING"
    assert state_of(s, "boom") == "WARNING"
    assert state_of(s, "after") == "SUCCESS"
    assert state_of(s, "cleanup") == "SUCCESS"


def test_disabled_and_run_if_are_skipped(runner):
    s = run(runner, """
        id: skips
        namespace: test.core
        inputs:
          - {id: go, type: BOOLEAN, defaults: false}
        tasks:
          - {id: off, type: log, message: x, disabled: true}
          - {id: maybe, type: log, message: y, runIf: "{{ inputs.go }}"}
          - {id: yes, type: log, message: z, runIf: "{{ not inputs.go }}"}
    """)
    assert s["state"] == "SUCCESS"
    assert state_of(s, "off") == "SKIPPED"
    assert state_of(s, "maybe") == "SKIPPED"
    assert state_of(s, "yes") == "SUCCESS"


def test_switch_and_if(runner):
    flow = """
        id: branching
        namespace: test.core
        inputs:
          - {id: color, type: SELECT, values: [red, blue, green]}
        tasks:
          - id: sw
            type: switch
            value: "{{ inputs.color }}"
            cases:
              red:
                - {id: is-red, type: return, format: R}
              blue:
                - {id: is-blue, type: return, format: B}
            defaults:
              - {id: other, type: return, format: O}
          - id: check
            type: if
            condition: "{{ inputs.color == 'red' }}"
            then:
              - {id: then-branch, type: log, message: red!}
            else:
              - {id: else-branch, type: log, message: not red}
    """
    s = run(runner, flow, {"color": "red"})
    assert s["state"] == "SUCCESS"
    ids = {tr["taskId"] for tr in s["taskRuns"]}
    assert {"is-red", "then-branch"} <= ids and not ids & {"is-blue", "other", "else-branch"}
    s = run(runner, flow, {"color": "green"})
    ids = {tr["taskId"] for tr in s["taskRuns"]}
    assert {"other", "else-branch"} <= ids and not ids & {"is-red", "is-blue", "then-branch"}
    assert runs_of(s, "sw")[0]["outputs"]["value"] == "green"


def test_for_each_outputs_by_value_and_concurrency(runner):
    s = run(runner, """
        id: loop
        namespace: test.core
        tasks:
          - id: each
            type: for_each
            values: ["a", "b", "c"]
            concurrencyLimit: 2
            tasks:
              - id: inner
                type: return
                format: "value-{{ taskrun.value }}"
          - id: pick
            type: return
            format: "{{ outputs.inner['b'].value }}"
          - id: all
            type: return
            format: "{{ outputs.inner | length }}"
    """)
    assert s["state"] == "SUCCESS"
    inner = runs_of(s, "inner")
    assert sorted(tr["value"] for tr in inner) == ["a", "b", "c"]
    assert runs_of(s, "pick")[0]["outputs"]["value"] == "value-b"
    assert runs_of(s, "all")[0]["outputs"]["value"] == 3


def test_nested_loops_and_parent_value(runner):
    s = run(runner, """
        id: nested
        namespace: test.core
        tasks:
          - id: outer
            type: io.kestra.core.tasks.flows.EachSequential
            value: ["x", "y"]
            tasks:
              - id: innerloop
                type: io.kestra.plugin.core.flow.EachParallel
                value: '["1", "2"]'
                tasks:
                  - id: leaf
                    type: return
                    format: "{{ parent.taskrun.value }}{{ taskrun.value }}"
          - id: read
            type: return
            format: "{{ outputs.leaf['y']['2'].value }}"
    """)
    assert s["state"] == "SUCCESS"
    assert sorted(tr["outputs"]["value"] for tr in runs_of(s, "leaf")) == ["x1", "x2", "y1", "y2"]
    assert runs_of(s, "read")[0]["outputs"]["value"] == "y2"


def test_for_each_iteration_failure_fails_the_loop(runner):
    s = run(runner, """
        id: loopfail
        namespace: test.core
        tasks:
          - id: each
            type: for_each
            values: [1, 2, 3]
            tasks:
              - id: maybe-fail
                type: fail
                condition: "{{ taskrun.value == '2' }}"
        errors:
          - {id: handler, type: log, message: loop failed}
    """)
    assert s["state"] == "FAILED"
    assert state_of(s, "each") == "FAILED"
    assert [tr["value"] for tr in runs_of(s, "maybe-fail")] == ["1", "2"]
    assert state_of(s, "handler") == "SUCCESS"


def test_dag_respects_dependencies(runner):
    s = run(runner, """
        id: dag
        namespace: test.core
        tasks:
          - id: graph
            type: dag
            tasks:
              - task: {id: a, type: sleep, duration: PT0.2S}
              - task: {id: b, type: sleep, duration: PT0.2S}
                dependsOn: [a]
              - task: {id: c, type: sleep, duration: PT0.2S}
                dependsOn: [a]
              - task: {id: d, type: log, message: done}
                dependsOn: [b, c]
    """)
    assert s["state"] == "SUCCESS"
    r = {tr["taskId"]: tr for tr in s["taskRuns"]}
    assert r["b"]["startDate"] >= r["a"]["endDate"]
    assert r["c"]["startDate"] >= r["a"]["endDate"]
    assert r["d"]["startDate"] >= max(r["b"]["endDate"], r["c"]["endDate"])
    # b and c overlap: they ran in parallel
    assert r["b"]["startDate"] < r["c"]["endDate"] and r["c"]["startDate"] < r["b"]["endDate"]


def test_subflow_outputs_and_failure(runner):
    runner.deploy(dedent("""
        id: child
        namespace: test.sub
        inputs:
          - {id: x, type: INT}
        tasks:
          - id: compute
            type: return
            format: "{{ inputs.x * 10 }}"
          - id: maybe
            type: fail
            condition: "{{ inputs.x < 0 }}"
        outputs:
          - id: result
            type: INT
            value: "{{ outputs.compute.value }}"
    """))
    s = run(runner, """
        id: parent
        namespace: test.sub
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            namespace: test.sub
            flowId: child
            inputs:
              x: 4
          - id: use
            type: return
            format: "{{ outputs.call.outputs.result + 1 }}"
    """)
    assert s["state"] == "SUCCESS", s
    call = runs_of(s, "call")[0]
    assert call["outputs"]["outputs"] == {"result": 40}
    child = runner.summary(call["outputs"]["executionId"])
    assert child["state"] == "SUCCESS" and child["parent"]["executionId"] == s["id"]
    assert runs_of(s, "use")[0]["outputs"]["value"] == 41
    s = run(runner, """
        id: parent2
        namespace: test.sub
        tasks:
          - id: call
            type: subflow
            namespace: test.sub
            flowId: child
            inputs: {x: -1}
    """)
    assert s["state"] == "FAILED"
    s = run(runner, """
        id: parent3
        namespace: test.sub
        tasks:
          - id: call
            type: subflow
            namespace: test.sub
            flowId: does-not-exist
    """)
    assert s["state"] == "FAILED"
    assert any("does not exist" in log["message"] for log in runner.logs(s["id"]))


def test_working_directory_shares_files(runner):
    s = run(runner, """
        id: wd
        namespace: test.core
        tasks:
          - id: wdir
            type: io.kestra.plugin.core.flow.WorkingDirectory
            tasks:
              - id: write
                type: shell
                commands: ["echo shared-content > data.txt"]
              - id: read
                type: python
                script: |
                  import json
                  text = open("data.txt").read().strip()
                  print('::' + json.dumps({"outputs": {"text": text}}) + '::')
    """)
    assert s["state"] == "SUCCESS", s
    assert runs_of(s, "read")[0]["outputs"]["vars"] == {"text": "shared-content"}


def test_sequential_with_errors_branch(runner):
    s = run(runner, """
        id: seqerr
        namespace: test.core
        tasks:
          - id: group
            type: sequential
            tasks:
              - {id: one, type: log, message: one}
              - {id: two, type: fail, message: broken}
              - {id: three, type: log, message: three}
            errors:
              - {id: local-handler, type: log, message: "group failed"}
    """)
    assert s["state"] == "FAILED"
    assert state_of(s, "local-handler") == "SUCCESS"
    assert runs_of(s, "three") == []


def test_plugin_defaults_apply(runner):
    s = run(runner, """
        id: defaults
        namespace: test.core
        pluginDefaults:
          - type: io.kestra.plugin.core.log.Log
            values:
              message: from defaults
              level: WARN
        tasks:
          - {id: a, type: log}
          - {id: b, type: log, message: own}
    """)
    assert s["state"] == "SUCCESS"
    logs = {log["taskId"]: log for log in runner.logs(s["id"])}
    assert logs["a"]["message"] == "from defaults" and logs["a"]["level"] == "WARN"
    assert logs["b"]["message"] == "own"


def test_labels_and_invalid_inputs(runner):
    flow = runner.deploy(dedent("""
        id: labelled
        namespace: test.core
        labels:
          team: data
        inputs:
          - {id: age, type: INT, min: 0, max: 120}
        tasks:
          - {id: a, type: log, message: "{{ labels.team }}"}
    """))
    with pytest.raises(InputError) as info:
        runner.start_execution(flow.namespace, flow.id, {"age": "150"})
    assert "age" in str(info.value)
    ex_id = runner.start_execution(flow.namespace, flow.id, {"age": "30"}, labels={"env": "test"})
    s = runner.wait(ex_id, timeout=30)
    assert s["labels"] == {"team": "data", "env": "test", "system.correlationId": ex_id}


def test_kill_running_execution(runner):
    flow = runner.deploy(dedent("""
        id: long
        namespace: test.core
        tasks:
          - {id: wait, type: shell, commands: ["sleep 30"]}
    """))
    ex_id = runner.start_execution(flow.namespace, flow.id)
    time.sleep(0.5)
    started = time.monotonic()
    runner.kill(ex_id)
    s = runner.wait(ex_id, timeout=10)
    assert time.monotonic() - started < 5
    assert s["state"] == "KILLED"
    assert state_of(s, "wait") == "KILLED"


def test_pause_and_resume(runner):
    flow = runner.deploy(dedent("""
        id: approval
        namespace: test.core
        tasks:
          - {id: wait-for-me, type: pause}
          - {id: after, type: log, message: resumed}
    """))
    ex_id = runner.start_execution(flow.namespace, flow.id)
    deadline = time.monotonic() + 10
    while runner.summary(ex_id)["state"] != "PAUSED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    runner.resume(ex_id)
    s = runner.wait(ex_id, timeout=10)
    assert s["state"] == "SUCCESS"
    assert state_of(s, "after") == "SUCCESS"


def test_script_output_streams_while_running(runner):
    flow = runner.deploy(dedent("""
        id: stream
        namespace: test.core
        tasks:
          - id: talk
            type: python
            script: |
              import time
              print("first line", flush=True)
              time.sleep(2)
              print("second line")
    """))
    ex_id = runner.start_execution(flow.namespace, flow.id)
    deadline = time.monotonic() + 10
    seen_first_while_running = False
    while time.monotonic() < deadline:
        messages = [log["message"] for log in runner.store.get_logs(ex_id)]
        if "first line" in messages:
            seen_first_while_running = runner.summary(ex_id)["state"] == "RUNNING"
            break
        time.sleep(0.05)
    assert seen_first_while_running
    s = runner.wait(ex_id, timeout=10)
    assert s["state"] == "SUCCESS"
    logs = runner.logs(ex_id)
    first = next(log for log in logs if log["message"] == "first line")
    assert first["level"] == "INFO" and first["taskId"] == "talk" and first["attempt"] == 0
