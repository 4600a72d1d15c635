"""LoopUntil (WaitFor), AllowFailure and ForEachItem through the real runner."""

from __future__ import annotations

import time
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from tests.integration.flow_runs import messages, run, runs_of, state_of

# --- LoopUntil / WaitFor ----------------------------------------------------------------------------


def test_loop_until_repeats_until_its_condition_and_counts_rounds(runner: Any) -> None:
    s = run(runner, """
        id: loop
        namespace: test.types
        tasks:
          - id: loop
            type: io.kestra.plugin.core.flow.LoopUntil
            condition: "{{ outputs.count.value >= 3 }}"
            checkFrequency: {interval: PT0.05S}
            tasks:
              - id: count
                type: return
                format: "{{ outputs.loop.iterationCount }}"
          - id: after
            type: return
            format: "{{ outputs.count.value }}-{{ outputs.loop.iterationCount }}"
    """)
    assert s["state"] == "SUCCESS"
    assert [tr["outputs"]["value"] for tr in runs_of(s, "count")] == [1, 2, 3]
    assert runs_of(s, "loop")[0]["outputs"] == {"iterationCount": 3}
    assert runs_of(s, "after")[0]["outputs"]["value"] == "3-3"


@pytest.mark.parametrize(("fail", "expected"), [(True, "FAILED"), (False, "SUCCESS")])
def test_wait_for_gives_up_at_max_iterations(runner: Any, fail: bool, expected: str) -> None:
    s = run(runner, f"""
        id: waitfor-max
        namespace: test.types
        tasks:
          - id: waitfor
            type: io.kestra.plugin.core.flow.WaitFor
            condition: "{{{{ outputs.values.values.count == 10 }}}}"
            failOnMaxReached: {str(fail).lower()}
            checkFrequency: {{maxIterations: 3, interval: PT0.05S}}
            tasks:
              - id: values
                type: io.kestra.plugin.core.output.OutputValues
                values:
                  count: "{{{{ outputs.waitfor.iterationCount + 1 }}}}"
    """)
    assert s["state"] == expected
    assert len(runs_of(s, "values")) == 3
    assert any("maxIterations (3) reached" in m for m in messages(runner, s))


def test_loop_until_max_duration_and_a_failing_round(runner: Any) -> None:
    started = time.monotonic()
    s = run(runner, """
        id: loop-duration
        namespace: test.types
        tasks:
          - id: loop
            type: io.kestra.plugin.core.flow.LoopUntil
            condition: "{{ false }}"
            failOnMaxReached: true
            checkFrequency: {maxDuration: PT0.6S, interval: PT0.1S}
            tasks:
              - {id: noop, type: log, message: again}
    """)
    assert s["state"] == "FAILED" and time.monotonic() - started < 10
    assert 2 <= len(runs_of(s, "noop")) <= 10
    s = run(runner, """
        id: loop-fails
        namespace: test.types
        tasks:
          - id: loop
            type: io.kestra.plugin.core.flow.WaitFor
            condition: "{{ false }}"
            tasks:
              - {id: ok, type: log, message: fine}
              - {id: ko, type: fail, message: broken}
            errors:
              - {id: handled, type: log, message: "loop failed"}
    """)
    assert s["state"] == "FAILED" and state_of(s, "handled") == "SUCCESS"
    assert len(runs_of(s, "ko")) == 1  # a failed round is not run again


def test_loop_until_inside_for_each_keeps_outputs_per_value(runner: Any) -> None:
    s = run(runner, """
        id: loop-each
        namespace: test.types
        tasks:
          - id: each
            type: for_each
            values: ["a", "b"]
            tasks:
              - id: loop
                type: io.kestra.plugin.core.flow.LoopUntil
                condition: "{{ outputs.step[taskrun.value].value == taskrun.value ~ 2 }}"
                checkFrequency: {interval: PT0.05S}
                tasks:
                  - id: step
                    type: return
                    format: "{{ taskrun.value }}{{ outputs.loop[taskrun.value].iterationCount }}"
          - id: last
            type: return
            format: "{{ outputs.step['a'].value }} {{ outputs.step['b'].value }}"
    """)
    assert s["state"] == "SUCCESS"
    assert runs_of(s, "last")[0]["outputs"]["value"] == "a2 b2"


# --- AllowFailure ------------------------------------------------------------------------------------


ALLOW_FAILURE = """
    id: allow-failure
    namespace: test.types
    inputs:
      - {id: crash, type: BOOLEAN, defaults: false}
    tasks:
      - id: first
        type: sequential
        tasks:
          - id: block
            type: io.kestra.plugin.core.flow.AllowFailure
            tasks:
              - id: inner
                type: sequential
                tasks:
                  - {id: before, type: log, message: before}
                  - {id: ko, type: fail, message: boom}
                  - {id: skipped, type: log, message: never}
            errors:
              - {id: local-error, type: log, message: handled}
          - {id: next, type: log, message: goes on}
      - id: maybe
        type: if
        condition: "{{ inputs.crash }}"
        then:
          - {id: crash, type: fail, message: crashed}
    errors:
      - {id: global-error, type: log, message: "flow failed"}
"""


def test_allow_failure_ends_in_warning_and_the_flow_goes_on(runner: Any) -> None:
    s = run(runner, ALLOW_FAILURE)
    assert s["state"] == "WARNING"
    assert {t: state_of(s, t) for t in ("first", "block", "inner", "before", "ko", "local-error", "next")} == {
        "first": "WARNING", "block": "WARNING", "inner": "FAILED", "before": "SUCCESS", "ko": "FAILED",
        "local-error": "SUCCESS", "next": "SUCCESS",
    }
    assert not runs_of(s, "skipped") and not runs_of(s, "global-error")
    s = run(runner, ALLOW_FAILURE, {"crash": "true"})
    assert s["state"] == "FAILED" and state_of(s, "block") == "WARNING" and state_of(s, "global-error") == "SUCCESS"


# --- ForEachItem -------------------------------------------------------------------------------------

SUBFLOW = """
    id: batch
    namespace: test.items
    inputs:
      - {id: items, type: STRING}
      - {id: n, type: INT}
    tasks:
      - id: read
        type: return
        format: "{{ read(inputs.items) | trim }}"
      - id: maybe-fail
        type: fail
        condition: "{{ read(inputs.items) contains 'bad' }}"
        message: "bad batch {{ inputs.n }}"
    outputs:
      - {id: lines, type: STRING, value: "{{ outputs.read.value }}"}
"""

PARENT = """
    id: parent
    namespace: test.items
    inputs:
      - {id: file, type: FILE}
    tasks:
      - id: each
        type: io.kestra.plugin.core.flow.ForEachItem
        items: "{{ inputs.file }}"
        batch: {rows: 4}
        namespace: test.items
        flowId: batch
        inputs:
          items: "{{ taskrun.items }}"
          n: "{{ taskrun.iteration }}"
        labels: {batch: "{{ taskrun.iteration }}"}
"""


def items_file(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "items.txt"
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def children(runner: Any, flow_id: str = "batch") -> list[dict[str, Any]]:
    runner.sync()
    found, _ = runner.store.search_executions(namespace="test.items", flow_id=flow_id, limit=1000)
    return [runner.summary(e.id) for e in found]


def test_for_each_item_runs_a_subflow_per_batch_and_merges_their_outputs(runner: Any, tmp_path: Path) -> None:
    runner.deploy(dedent(SUBFLOW))
    s = run(runner, PARENT + """
      - id: merged
        type: return
        format: "{{ read(outputs.each_merge.subflowOutputs) }}"
    """, {"file": items_file(tmp_path, [f"item{i}" for i in range(10)])})
    assert s["state"] == "SUCCESS"
    assert [tr["taskId"] for tr in s["taskRuns"][:4]] == ["each", "each_split", "each_items", "each_merge"]
    items = runs_of(s, "each_items")[0]["outputs"]
    assert items == {"numberOfBatches": 3, "iterations": {"CREATED": 0, "RUNNING": 0, "SUCCESS": 3}}
    assert runs_of(s, "each")[0]["outputs"]["iterations"] == items["iterations"]
    merged = runs_of(s, "merged")[0]["outputs"]["value"].splitlines()
    assert merged == ['{lines:"item0\\nitem1\\nitem2\\nitem3"}', '{lines:"item4\\nitem5\\nitem6\\nitem7"}', '{lines:"item8\\nitem9"}']
    subs = sorted(children(runner), key=lambda c: c["inputs"]["n"])
    assert [c["inputs"]["n"] for c in subs] == [1, 2, 3] and [c["labels"]["batch"] for c in subs] == ["1", "2", "3"]
    assert all("/tasks/each_split/" in c["inputs"]["items"] and c["inputs"]["items"].endswith(".txt") for c in subs)
    assert all(c["parent"]["executionId"] == s["id"] for c in subs)


def test_a_failed_batch_fails_for_each_item_after_every_batch_ran(runner: Any, tmp_path: Path) -> None:
    runner.deploy(dedent(SUBFLOW))
    lines = ["ok"] * 4 + ["bad"] + ["ok"] * 7
    s = run(runner, PARENT, {"file": items_file(tmp_path, lines)})
    assert s["state"] == "FAILED"
    assert runs_of(s, "each_items")[0]["outputs"]["iterations"] == {"CREATED": 0, "RUNNING": 0, "SUCCESS": 2, "FAILED": 1}
    assert not runs_of(s, "each_merge")  # Kestra's shape: the merge step never starts
    assert len(children(runner)) == 3
    assert any("1 of 3 batches failed (first: batch 2)" in m for m in messages(runner, s))
    allowed = run(runner, PARENT.replace("id: parent", "id: parent-allowed").replace(
        "type: io.kestra.plugin.core.flow.ForEachItem", "type: io.kestra.plugin.core.flow.ForEachItem\n        allowFailure: true") + """
      - {id: after, type: log, message: allowed}
    """, {"file": items_file(tmp_path, lines)})
    assert allowed["state"] == "WARNING" and state_of(allowed, "after") == "SUCCESS"
    ignored = run(runner, PARENT.replace("id: parent", "id: parent-ignore").replace(
        "batch: {rows: 4}", "batch: {rows: 4}\n        transmitFailed: false"), {"file": items_file(tmp_path, lines)})
    assert ignored["state"] == "SUCCESS"


def test_for_each_item_without_wait_starts_every_batch_and_ends_at_once(runner: Any, tmp_path: Path) -> None:
    runner.deploy(dedent(SUBFLOW))
    s = run(runner, PARENT.replace("batch: {rows: 4}", "batch: {rows: 1}\n        wait: false"),
            {"file": items_file(tmp_path, [f"i{n}" for n in range(6)])})
    assert s["state"] == "SUCCESS"
    assert runs_of(s, "each_items")[0]["outputs"]["iterations"] == {"RUNNING": 0, "SUCCESS": 6}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(c["state"] == "SUCCESS" for c in children(runner)) < 6:
        time.sleep(0.1)
    assert sorted(c["inputs"]["n"] for c in children(runner)) == [1, 2, 3, 4, 5, 6]


def test_for_each_item_on_an_empty_file_and_with_partitions(runner: Any, tmp_path: Path) -> None:
    runner.deploy(dedent(SUBFLOW))
    s = run(runner, PARENT, {"file": items_file(tmp_path, [])})
    assert s["state"] == "SUCCESS" and not children(runner)
    assert runs_of(s, "each_items")[0]["outputs"] == {}
    s = run(runner, PARENT.replace("batch: {rows: 4}", "batch: {partitions: 2}"), {"file": items_file(tmp_path, list("abcde"))})
    assert s["state"] == "SUCCESS"
    assert sorted(c["outputs"]["lines"] for c in children(runner)) == ["a\nc\ne", "b\nd"]


def test_for_each_item_refuses_what_is_not_a_stored_file(runner: Any) -> None:
    runner.deploy(dedent(SUBFLOW))
    s = run(runner, PARENT.replace('"{{ inputs.file }}"', "/etc/passwd").replace("  - {id: file, type: FILE}\n", "  - {id: file, type: STRING, required: false}\n"))
    assert s["state"] == "FAILED"
    assert any("each.items: '/etc/passwd' is not an internal storage URI" in m for m in messages(runner, s))
    s = run(runner, PARENT.replace("flowId: batch", "flowId: missing").replace("id: parent", "id: parent-missing"),
            {"file": str(Path(__file__))})
    assert s["state"] == "FAILED"
    assert any("flow test.items.missing does not exist" in m for m in messages(runner, s))


def test_killing_the_parent_kills_the_running_batches(runner: Any, tmp_path: Path) -> None:
    runner.deploy(dedent("""
        id: slow
        namespace: test.items
        inputs:
          - {id: items, type: STRING}
        tasks:
          - {id: wait, type: sleep, duration: PT30S}
    """))
    ex_id = runner.start_execution("test.items", runner.deploy(dedent(PARENT.replace("flowId: batch", "flowId: slow").replace(
        '          n: "{{ taskrun.iteration }}"\n', ""))).id, {"file": items_file(tmp_path, list("abcdefgh"))})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len([c for c in children(runner, "slow") if c["state"] == "RUNNING"]) < 2:
        time.sleep(0.1)
    runner.kill(ex_id)
    s = runner.wait(ex_id, timeout=20)
    assert s["state"] == "KILLED"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(c["state"] != "KILLED" for c in children(runner, "slow")):
        time.sleep(0.1)
    assert [c["state"] for c in children(runner, "slow")] == ["KILLED", "KILLED"]


def test_restarting_a_failed_for_each_item_runs_only_the_failed_batches(runner: Any, tmp_path: Path) -> None:
    runner.deploy(dedent(SUBFLOW.replace(
        "condition: \"{{ read(inputs.items) contains 'bad' }}\"",
        "condition: \"{{ read(inputs.items) contains 'bad' and kv('fixed', errorOnMissing=false) == null }}\"")))
    s = run(runner, PARENT, {"file": items_file(tmp_path, ["ok"] * 4 + ["bad"] * 4)})
    assert s["state"] == "FAILED" and len(children(runner)) == 2
    from engine.store.kv import KvStore

    KvStore(runner.store).put("test.items", "fixed", True)
    runner.restart(s["id"])  # posted to the runner loop: the execution leaves FAILED when the loop takes it
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and runner.summary(s["id"])["state"] == "FAILED":
        time.sleep(0.05)
    again = runner.wait(s["id"], timeout=30)
    assert again["state"] == "SUCCESS", again["state"]
    assert len(children(runner)) == 3  # batch 1 kept its success, batch 2 ran once more
    assert runs_of(again, "each_items")[0]["outputs"]["iterations"]["SUCCESS"] == 2
