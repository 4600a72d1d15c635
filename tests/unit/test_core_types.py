"""The core task types added for Kestra compatibility: names, validation of bad input, and their pure helpers."""

from __future__ import annotations

import io
from textwrap import dedent

import pytest

from engine.ion_rows import RowError, dump_row, parse_row, read_rows
from engine.model import registry
from engine.model.validation import validate_text
from engine.sdk import TaskFailed
from engine.tasks.globs import matches_any
from engine.tasks.splitting import parse_size
from engine.tasks.storage_items import _backwards

KESTRA_NAMES = {
    "io.kestra.plugin.core.debug.Echo": "echo",
    "io.kestra.core.tasks.debugs.Echo": "echo",
    "io.kestra.plugin.core.flow.ForEachItem": "for_each_item",
    "io.kestra.core.tasks.flows.ForEachItem": "for_each_item",
    "io.kestra.plugin.core.flow.WaitFor": "loop_until",
    "io.kestra.plugin.core.flow.LoopUntil": "loop_until",
    "io.kestra.plugin.core.flow.AllowFailure": "allow_failure",
    "io.kestra.core.tasks.flows.AllowFailure": "allow_failure",
    "io.kestra.plugin.core.execution.Labels": "labels",
    "io.kestra.plugin.core.execution.Resume": "resume",
    "io.kestra.plugin.core.execution.Assert": "assert",
    "io.kestra.plugin.core.execution.Exit": "exit",
    "io.kestra.plugin.core.execution.Count": "count",
    "io.kestra.core.tasks.executions.Counts": "count",
    "io.kestra.plugin.core.execution.PurgeExecutions": "purge_executions",
    "io.kestra.plugin.core.storage.Purge": "purge_executions",
    "io.kestra.plugin.core.log.PurgeLogs": "purge_logs",
    "io.kestra.plugin.core.log.Fetch": "log_fetch",
    "io.kestra.plugin.core.kv.Set": "kv_set",
    "io.kestra.plugin.core.kv.Get": "kv_get",
    "io.kestra.plugin.core.kv.GetKeys": "kv_get_keys",
    "io.kestra.plugin.core.kv.Delete": "kv_delete",
    "io.kestra.plugin.core.kv.PurgeKV": "kv_purge",
    "io.kestra.plugin.core.storage.Write": "storage_write",
    "io.kestra.plugin.core.storage.LocalFiles": "local_files",
    "io.kestra.plugin.core.storage.Concat": "storage_concat",
    "io.kestra.plugin.core.storage.Split": "storage_split",
    "io.kestra.plugin.core.storage.Size": "storage_size",
    "io.kestra.plugin.core.storage.Delete": "storage_delete",
    "io.kestra.plugin.core.storage.DeduplicateItems": "deduplicate_items",
    "io.kestra.plugin.core.storage.FilterItems": "filter_items",
    "io.kestra.plugin.core.storage.Reverse": "storage_reverse",
    "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles": "purge_current_execution_files",
    "io.kestra.plugin.core.storage.PurgeExecution": "purge_current_execution_files",
    "io.kestra.plugin.core.namespace.UploadFiles": "namespace_upload_files",
    "io.kestra.plugin.core.namespace.DownloadFiles": "namespace_download_files",
    "io.kestra.plugin.core.namespace.DeleteFiles": "namespace_delete_files",
    "io.kestra.plugin.core.trigger.Toggle": "trigger_toggle",
    "io.kestra.core.tasks.trigger.Toggle": "trigger_toggle",
    "io.kestra.plugin.core.state.Set": "state_set",
    "io.kestra.core.tasks.states.Get": "state_get",
    "io.kestra.plugin.core.state.Delete": "state_delete",
    "io.kestra.plugin.core.metric.Publish": "metric_publish",
}


def test_every_kestra_name_resolves_to_its_type() -> None:
    for name, canonical in KESTRA_NAMES.items():
        assert registry.canonical_task_name(name) == canonical, name
    assert registry.trigger_class("io.kestra.plugin.core.trigger.ScheduleOnDates") is not None


def errors_of(task: str, extra: str = "") -> list[str]:
    text = dedent("""
        id: f
        namespace: t.n
        tasks:
          - {task}
        {extra}
    """).format(task=task, extra=extra)
    return [str(e) for e in validate_text(text).errors]


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("{id: e, type: io.kestra.plugin.core.debug.Echo}", "tasks[0].format: is required"),
        ("{id: e, type: io.kestra.plugin.core.execution.Exit, state: DONE}", "'DONE' is not an exit state"),
        ("{id: c, type: io.kestra.plugin.core.execution.Count, startDate: x, expression: y, states: [FINISHED]}",
         "'FINISHED' is not an execution state"),
        ("{id: a, type: io.kestra.plugin.core.execution.Assert, conditions: []}", "tasks[0].conditions"),
        ("{id: k, type: io.kestra.plugin.core.kv.Set, key: a, value: 1, kvType: YAML}", "tasks[0].kvType"),
        ("{id: k, type: io.kestra.plugin.core.kv.Set, key: a, value: 1, ttl: soon}", "tasks[0].ttl"),
        ("{id: m, type: io.kestra.plugin.core.metric.Publish, metrics: [{type: histogram, name: n, value: 1}]}", "tasks[0].metrics"),
        ("{id: w, type: io.kestra.plugin.core.flow.WaitFor, condition: x, tasks: []}", "tasks[0].tasks"),
        ("{id: w, type: io.kestra.plugin.core.flow.LoopUntil, condition: x, tasks: [{id: l, type: log, message: m}],"
         " checkFrequency: {maxIterations: 0}}", "tasks[0].checkFrequency.maxIterations"),
        ("{id: f, type: io.kestra.plugin.core.flow.ForEachItem, items: x, namespace: n, flowId: s, scheduleDate: '2025-01-01T00:00:00Z'}",
         "scheduleDate is not supported"),
        ("{id: f, type: io.kestra.plugin.core.flow.ForEachItem, items: x, namespace: n}", "tasks[0].flowId: is required"),
        ("{id: i, type: io.kestra.plugin.core.storage.FilterItems, from: x, filterCondition: y, filterType: KEEP}", "tasks[0].filterType"),
        ("{id: u, type: io.kestra.plugin.core.namespace.UploadFiles, conflict: REPLACE}", "tasks[0].conflict"),
    ],
)
def test_bad_properties_are_validation_errors_with_their_path(task: str, message: str) -> None:
    errors = errors_of(task)
    assert any(message in e for e in errors), errors


def test_for_each_item_steps_can_be_named_in_expressions() -> None:
    text = dedent("""
        id: f
        namespace: t.n
        tasks:
          - {id: each, type: io.kestra.plugin.core.flow.ForEachItem, items: "{{ inputs.f }}", namespace: n, flowId: s}
          - {id: r, type: return, format: "{{ outputs.each_merge.subflowOutputs }} {{ outputs.each_items.iterations }}"}
          - {id: bad, type: return, format: "{{ outputs.each_nope.x }}"}
    """)
    errors = [str(e) for e in validate_text(text).errors]
    assert len(errors) == 1 and "outputs.each_nope refers to a task that does not exist" in errors[0], errors


def test_schedule_on_dates_refuses_bad_dates_and_zones() -> None:
    tasks = "{id: a, type: log, message: m}"
    bad_date = "triggers:\n  - {id: d, type: io.kestra.plugin.core.trigger.ScheduleOnDates, dates: ['2025-13-01T00:00:00Z']}"
    assert any("is not an ISO-8601 date-time" in e for e in errors_of(tasks, bad_date))
    bad_zone = "triggers:\n  - {id: d, type: io.kestra.plugin.core.trigger.ScheduleOnDates, dates: [], timezone: Mars/Base}"
    assert any("'Mars/Base' is not an IANA time zone" in e for e in errors_of(tasks, bad_zone))


def test_sizes() -> None:
    assert parse_size("512", "f") == 512 and parse_size("10KB", "f") == 10240 and parse_size("1mb", "f") == 1024**2
    with pytest.raises(TaskFailed, match=r"b.bytes: 'ten' is not a size"):
        parse_size("ten", "b.bytes")


def test_ant_globs() -> None:
    assert matches_any("a.csv", ["**/*.csv"]) and matches_any("x/y/a.csv", ["**/*.csv"])
    assert matches_any("/scripts/run.py", ["/scripts/*"]) and not matches_any("scripts/sub/run.py", ["/scripts/*"])
    assert matches_any("scripts/sub/run.py", ["glob:scripts/**"]) and not matches_any("data.txt", ["*.csv", "*.py"])


def test_ion_rows_read_json_and_ion_and_write_ion() -> None:
    assert parse_row('{"a": 1}') == {"a": 1}
    assert parse_row('{a:1,b:"x",c:[1.5e0,null,true],d:2024-01-02T03:04:05Z}') == {
        "a": 1, "b": "x", "c": [1.5, None, True], "d": "2024-01-02T03:04:05+00:00"}
    line = dump_row({"text": "two\nlines", "n": 3})
    assert line.count(b"\n") == 1 and parse_row(line.decode().strip()) == {"text": "two\nlines", "n": 3}
    assert list(read_rows(io.BytesIO(b'{"a":1}\n\n{b:2}\n'))) == [{"a": 1}, {"b": 2}]
    with pytest.raises(RowError, match="line 2 is not an Ion or JSON value"):
        list(read_rows(io.BytesIO(b'{"a":1}\n{oops\n')))


@pytest.mark.parametrize("data", [b"a\nb\n", b"a\nb", b"", b"\n", b"a\n\nb\n", b"x" * 70000 + b"\ny\n"])
def test_lines_read_backwards(data: bytes) -> None:
    expected = [] if not data else data.split(b"\n")[: -1 if data.endswith(b"\n") else None]
    assert list(_backwards(io.BytesIO(data), b"\n", block=4096)) == expected[::-1]
