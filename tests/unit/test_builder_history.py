"""The pure parts behind the Executions, Logs and flow pages: label filters, human times, dependencies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from builder.history import _listened, _subflows, parse_labels
from builder.human import ago, took

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_label_filter_reads_pairs_and_names_a_bad_one() -> None:
    assert parse_labels("team:data, env:prod") == {"team": "data", "env": "prod"}
    assert parse_labels("url:http://x") == {"url": "http://x"}
    assert parse_labels("  ") == {}
    with pytest.raises(ValueError, match="'team' needs the form key:value"):
        parse_labels("team")


@pytest.mark.parametrize(("when", "text"), [
    ("2026-03-01T11:59:58+00:00", "just now"),
    ("2026-03-01T11:59:15+00:00", "45 s ago"),
    ("2026-03-01T11:58:00+00:00", "2 min ago"),
    ("2026-03-01T09:00:00.5+00:00", "2 h ago"),
    ("2026-02-28T12:00:00+00:00", "1 day ago"),
    ("2026-02-24T11:00:00+00:00", "5 days ago"),
    ("2026-03-01T12:02:00+00:00", "in 2m 00s"),
    (None, ""),
])
def test_ago(when: str | None, text: str) -> None:
    assert ago(when, NOW) == text


def test_took_is_the_duration_or_the_time_so_far() -> None:
    assert took("2026-03-01T11:58:55+00:00", "2026-03-01T12:00:00+00:00") == "1m 05s"
    assert took("2026-03-01T11:59:58+00:00", None, NOW) == "2.0s"
    assert took(None, None, NOW) == ""


FLOW = yaml.safe_load("""
id: parent
namespace: a
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: a.b
    flowId: child
  - id: each
    type: for_each
    values: [1, 2]
    tasks:
      - {id: batch, type: for_each_item, items: "{{ inputs.file }}", namespace: a, flowId: worker}
      - {id: dynamic, type: subflow, namespace: a, flowId: "{{ inputs.target }}"}
errors:
  - {id: alert, type: subflow, namespace: ops, flowId: alert}
triggers:
  - id: upstream
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - {type: ExecutionFlowCondition, namespace: a.b, flowId: extract}
    preconditions:
      flows:
        - {namespace: a.b, flowId: load, states: [SUCCESS]}
  - {id: nightly, type: schedule, cron: "0 2 * * *"}
""")


def test_subflows_and_listened_flows_come_from_the_raw_yaml() -> None:
    assert _subflows(FLOW) == {("a.b", "child"), ("a", "worker"), ("ops", "alert")}  # an expression is left out
    assert _listened(FLOW) == {("a.b", "extract"), ("a.b", "load")}


def test_task_run_choices_stay_apart_when_two_read_the_same() -> None:
    from builder.pages.execution_tools import _unique_labels

    runs = [{"id": "aaaaaaaa-1", "taskId": "t", "value": "x", "state": "SUCCESS"},
            {"id": "bbbbbbbb-2", "taskId": "t", "value": "x", "state": "SUCCESS"},
            {"id": "c", "taskId": "u", "value": None, "state": "FAILED"}]
    labels = [label for label, _run in _unique_labels(runs)]
    assert labels == ["t [x] · SUCCESS (aaaaaaaa)", "t [x] · SUCCESS (bbbbbbbb)", "u · FAILED"]
