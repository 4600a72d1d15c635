"""Echo, Labels, Exit, Assert, metric Publish, kv.*, state.*, Count, PurgeExecutions, PurgeLogs, Resume and
trigger Toggle through the real runner and its store."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from textwrap import dedent
from typing import Any

import pytest

from engine.store.kv import KvStore
from engine.store.triggers import TriggerStore
from tests.integration.flow_runs import error_of, out, run, state_of


def test_echo_logs_at_its_level_and_labels_change_the_execution(runner: Any) -> None:
    s = run(runner, """
        id: labels
        namespace: test.exec
        labels: {team: data, overridden: flow}
        inputs:
          - {id: json, type: JSON, defaults: '{"fromJson": "yes"}'}
        tasks:
          - {id: echo, type: io.kestra.plugin.core.debug.Echo, level: WARN, format: "{{ flow.id }} starts"}
          - {id: from-map, type: io.kestra.plugin.core.execution.Labels, labels: {overridden: "{{ flow.namespace }}", count: "{{ 1 + 1 }}", flag: "{{ true }}"}}
          - {id: from-list, type: io.kestra.plugin.core.execution.Labels, labels: [{key: listed, value: "{{ taskrun.id is defined }}"}]}
          - {id: from-json, type: io.kestra.plugin.core.execution.Labels, labels: "{{ inputs.json }}"}
          - {id: read, type: return, format: "{{ labels.overridden }}/{{ labels.count }}"}
    """)
    assert s["state"] == "SUCCESS"
    labels = {k: v for k, v in s["labels"].items() if not k.startswith("system.")}  # system.correlationId: Kestra sets it
    assert labels == {"team": "data", "overridden": "test.exec", "count": "2", "flag": "true", "listed": "true", "fromJson": "yes"}
    assert out(s, "read")["value"] == "test.exec/2"
    assert ("WARN", "labels starts") in [(log["level"], log["message"]) for log in runner.logs(s["id"])]
    stored, _ = runner.store.search_executions(labels={"count": "2"})
    assert [e.id for e in stored] == [s["id"]]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("{system.correlationId: x}", "'system.correlationId' is a system label"),
        ('"{{ \'not json\' }}"', "is not a map or a list of labels"),
        ("[{key: only}]", "labels[0]: give a label as {key: ..., value: ...}"),
    ],
)
def test_bad_labels_fail_the_task_with_a_reason(runner: Any, labels: str, message: str) -> None:
    s = run(runner, f"""
        id: bad-labels
        namespace: test.exec
        tasks:
          - {{id: l, type: io.kestra.plugin.core.execution.Labels, labels: {labels}}}
    """)
    assert s["state"] == "FAILED" and message in error_of(s, "l")


def test_exit_ends_the_execution_in_its_state(runner: Any) -> None:
    s = run(runner, """
        id: exit-warning
        namespace: test.exec
        tasks:
          - id: par
            type: parallel
            tasks:
              - {id: slow, type: sleep, duration: PT0.5S}
              - id: seq
                type: sequential
                tasks:
                  - {id: exit, type: io.kestra.plugin.core.execution.Exit, state: "{{ 'WARN' ~ 'ING' }}"}
                  - {id: never, type: log, message: never}
          - {id: never-either, type: log, message: never}
    """)
    assert s["state"] == "WARNING"
    assert {tr["taskId"]: tr["state"] for tr in s["taskRuns"]} == {"par": "WARNING", "slow": "SUCCESS", "seq": "WARNING", "exit": "WARNING"}
    s = run(runner, """
        id: exit-killed
        namespace: test.exec
        tasks:
          - id: par
            type: parallel
            tasks:
              - {id: slow, type: sleep, duration: PT30S}
              - {id: exit, type: io.kestra.plugin.core.execution.Exit, state: KILLED}
    """, timeout=20)
    assert s["state"] == "KILLED" and state_of(s, "slow") == "KILLED"
    s = run(runner, """
        id: exit-canceled
        namespace: test.exec
        tasks:
          - {id: exit, type: io.kestra.plugin.core.execution.Exit, state: CANCELED}
          - {id: never, type: log, message: never}
    """)
    assert s["state"] == "CANCELLED" and [tr["taskId"] for tr in s["taskRuns"]] == ["exit"]
    s = run(runner, """
        id: exit-bad
        namespace: test.exec
        tasks:
          - {id: exit, type: io.kestra.plugin.core.execution.Exit, state: "{{ 'DONE' }}"}
    """)
    assert s["state"] == "FAILED" and "'DONE' is not an exit state" in error_of(s, "exit")


def test_assert_logs_each_false_condition_and_publishes_counts(runner: Any) -> None:
    s = run(runner, """
        id: assert
        namespace: test.exec
        inputs:
          - {id: param, type: STRING, defaults: ok}
        tasks:
          - id: check
            type: io.kestra.plugin.core.execution.Assert
            errorMessage: "bad input {{ inputs.param }}"
            conditions:
              - "{{ inputs.param == 'ok' }}"
              - "{{ 1 + 1 == 3 }}"
              - "0"
    """)
    assert s["state"] == "FAILED"
    assert error_of(s, "check") == "2 assertion(s) failed: bad input ok"
    assert sum("Assertion `{{ 1 + 1 == 3 }}` failed!" == log["message"] for log in runner.logs(s["id"])) == 1
    (tr,) = s["taskRuns"]
    assert {m["name"]: m["value"] for m in tr["metrics"]} == {"failed": 2, "success": 1}


def test_metric_publish_keeps_metrics_on_the_task_run(runner: Any) -> None:
    s = run(runner, """
        id: metrics
        namespace: test.exec
        tasks:
          - id: m
            type: io.kestra.plugin.core.metric.Publish
            metrics:
              - {type: counter, name: rows, value: "{{ 40 + 2 }}", tags: {flow: "{{ flow.id }}"}}
              - {type: timer, name: duration, value: PT1M30S}
              - {type: gauge, name: ratio, value: 0.5}
    """)
    assert s["state"] == "SUCCESS"
    assert s["taskRuns"][0]["metrics"] == [
        {"type": "counter", "name": "rows", "value": 42, "tags": {"flow": "metrics"}},
        {"type": "timer", "name": "duration", "value": 90.0, "tags": {}},
        {"type": "gauge", "name": "ratio", "value": 0.5, "tags": {}},
    ]
    s = run(runner, """
        id: metrics-bad
        namespace: test.exec
        tasks:
          - {id: m, type: io.kestra.plugin.core.metric.Publish, metrics: [{type: timer, name: d, value: soon}]}
    """)
    assert s["state"] == "FAILED" and "m.metrics[0].value: 'soon' is not an ISO-8601 duration" in error_of(s, "m")


KV_FLOW = """
    id: kv
    namespace: company.team
    tasks:
      - {id: set, type: io.kestra.plugin.core.kv.Set, key: "conf_{{ flow.id }}", value: {a: 1, b: [true]}}
      - {id: num, type: io.kestra.plugin.core.kv.Set, key: num, value: "42", kvType: NUMBER}
      - {id: shared, type: io.kestra.plugin.core.kv.Set, key: shared, value: parent, namespace: company}
      - {id: short, type: io.kestra.plugin.core.kv.Set, key: short, value: x, ttl: PT0.2S}
      - {id: get, type: io.kestra.plugin.core.kv.Get, key: conf_kv}
      - {id: get-parent, type: io.kestra.plugin.core.kv.Get, key: shared, namespace: company}
      - {id: keys, type: io.kestra.plugin.core.kv.GetKeys, prefix: "conf"}
      - {id: expr, type: return, format: "{{ kv('num') + 1 }}"}
      - {id: wait, type: sleep, duration: PT0.3S}
      - {id: expired, type: io.kestra.plugin.core.kv.Get, key: short}
      - {id: delete, type: io.kestra.plugin.core.kv.Delete, key: num}
      - {id: delete-again, type: io.kestra.plugin.core.kv.Delete, key: num}
"""


def test_kv_tasks_set_get_list_expire_and_delete(runner: Any) -> None:
    s = run(runner, KV_FLOW)
    assert s["state"] == "SUCCESS", [(tr["taskId"], tr["attempts"][-1].get("message")) for tr in s["taskRuns"]]
    assert out(s, "get") == {"value": {"a": 1, "b": [True]}}
    assert out(s, "get-parent") == {"value": "parent"}
    assert out(s, "keys") == {"keys": ["conf_kv"]}
    assert out(s, "expr") == {"value": 43}
    assert out(s, "expired") == {"value": None}
    assert out(s, "delete") == {"deleted": True} and out(s, "delete-again") == {"deleted": False}
    kv = KvStore(runner.store)
    assert kv.get("company.team", "num") is None and kv.get("company", "shared").value == "parent"
    assert [e.key for e in kv.list("company.team")] == ["conf_kv"]  # the expired key is not listed
    assert kv.purge(["company"]) == 1  # PurgeKV's default: the expired keys only
    assert kv.purge(["company"], expired_only=False) == 2


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("{id: t, type: io.kestra.plugin.core.kv.Set, key: k, value: 1, namespace: other.team}",
         "t.namespace: a flow of namespace 'company.team' may use its own namespace and the namespaces above it, not 'other.team'"),
        ("{id: t, type: io.kestra.plugin.core.kv.Get, key: nope, errorOnMissing: true}",
         "t: no value for key 'nope' in namespace 'company.team' (errorOnMissing is true)"),
        ("{id: t, type: io.kestra.plugin.core.kv.Set, key: 'bad key', value: 1}", "kv key 'bad key' is invalid"),
        ("{id: t, type: io.kestra.plugin.core.kv.Set, key: k, value: abc, kvType: NUMBER}", "t.value: 'abc' is not a valid NUMBER"),
        ("{id: t, type: io.kestra.plugin.core.kv.Delete, key: nope, errorOnMissing: true}", "no value for key 'nope'"),
    ],
)
def test_kv_tasks_refuse_with_a_reason(runner: Any, task: str, message: str) -> None:
    s = run(runner, f"""
        id: kv-bad
        namespace: company.team
        tasks:
          - {task}
    """)
    assert s["state"] == "FAILED" and message in error_of(s, "t"), error_of(s, "t")


def test_kv_set_without_overwrite_and_purge_kv_task(runner: Any) -> None:
    kv = KvStore(runner.store)
    kv.put("company.team", "kept", "old")
    kv.put("company.team", "gone", "x", ttl=timedelta(milliseconds=1))
    kv.put("other", "AI_token", "x")
    kv.put("other", "plain", "x")
    time.sleep(0.01)
    s = run(runner, """
        id: kv-purge
        namespace: system
        tasks:
          - {id: keep, type: io.kestra.plugin.core.kv.Set, key: kept, value: new, overwrite: false, namespace: company.team, allowFailure: true}
          - {id: expired, type: io.kestra.plugin.core.kv.PurgeKV, namespaces: [company]}
          - {id: pattern, type: io.kestra.plugin.core.kv.PurgeKV, namespacePattern: "oth*", keyPattern: "AI_*", expiredOnly: false}
    """)
    assert s["state"] == "WARNING"  # a flow of 'system' may not write company.team's keys
    assert "may use its own namespace" in error_of(s, "keep")
    assert out(s, "expired") == {"size": 1} and out(s, "pattern") == {"size": 1}
    assert [e.key for e in kv.list("other")] == ["plain"] and kv.get("company.team", "kept").value == "old"
    s = run(runner, """
        id: kv-overwrite
        namespace: company.team
        tasks:
          - {id: keep, type: io.kestra.plugin.core.kv.Set, key: kept, value: new, overwrite: false}
    """)
    assert s["state"] == "FAILED" and "already exists in namespace 'company.team' and overwrite is false" in error_of(s, "keep")


def test_state_tasks_keep_a_document_per_flow_name_and_loop_value(runner: Any) -> None:
    flow = """
        id: states
        namespace: test.exec
        tasks:
          - {id: get, type: io.kestra.plugin.core.state.Get, name: counter}
          - id: set
            type: io.kestra.plugin.core.state.Set
            name: counter
            data: {value: "{{ (outputs.get.data.value ?? 0) + 1 }}", nested: {a: 1}}
          - id: each
            type: for_each
            values: ["x", "y"]
            tasks:
              - {id: per-value, type: io.kestra.plugin.core.state.Set, name: each, data: {v: "{{ taskrun.value }}"}}
          - {id: shared, type: io.kestra.plugin.core.state.Get, name: each, taskrunValue: false}
    """
    first = run(runner, flow)
    second = run(runner, flow)
    assert out(first, "get") == {"count": 0, "data": {}}
    assert out(second, "get")["data"] == {"value": 1, "nested": {"a": 1}}
    assert out(second, "set") == {"count": 2, "key": "counter"}
    assert out(second, "shared") == {"count": 0, "data": {}}  # each loop value had its own state
    s = run(runner, """
        id: states
        namespace: test.exec
        tasks:
          - {id: delete, type: io.kestra.plugin.core.state.Delete, name: counter}
          - {id: again, type: io.kestra.plugin.core.state.Delete, name: counter, errorOnMissing: true}
    """)
    assert out(s, "delete") == {"deleted": True}
    assert s["state"] == "FAILED" and "state 'counter' does not exist (errorOnMissing is true)" in error_of(s, "again")


def test_count_finds_flows_by_how_often_they_ran(runner: Any) -> None:
    for flow_id in ("a", "b"):
        runner.deploy(f"id: {flow_id}\nnamespace: test.count\ntasks:\n  - {{id: l, type: log, message: hi}}\n")
    for flow_id in ("a", "a", "b"):
        runner.wait(runner.start_execution("test.count", flow_id), timeout=20)
    s = run(runner, """
        id: counter
        namespace: test.exec
        tasks:
          - id: twice
            type: io.kestra.plugin.core.execution.Count
            flows:
              - {namespace: test.count, id: a}
              - {namespace: test.count, id: b}
              - {namespace: test.count, id: never-ran}
            states: [SUCCESS]
            startDate: "{{ now() | dateAdd(-1, 'HOURS') }}"
            expression: "{{ count >= 2 }}"
          - id: none
            type: io.kestra.plugin.core.execution.Count
            namespaces: [test.count]
            flows: [{namespace: test.count, id: never-ran}]
            startDate: "2020-01-01T00:00:00Z"
            endDate: "{{ now() }}"
            expression: "{{ count == 0 }}"
    """)
    assert s["state"] == "SUCCESS"
    assert out(s, "twice") == {"results": [{"namespace": "test.count", "flowId": "a", "count": 2}], "total": 2}
    assert out(s, "none")["results"] == [{"namespace": "test.count", "flowId": "never-ran", "count": 0}]
    bad = run(runner, """
        id: counter-bad
        namespace: test.exec
        tasks:
          - {id: c, type: io.kestra.plugin.core.execution.Count, startDate: "yesterday", namespaces: [x], expression: "{{ true }}"}
    """)
    assert "c.startDate: 'yesterday' is not an ISO-8601 date-time" in error_of(bad, "c")


def test_purge_executions_and_logs(runner: Any) -> None:
    runner.deploy("id: old\nnamespace: test.purge.sub\ntasks:\n  - {id: l, type: log, message: to purge}\n")
    runner.deploy("id: other\nnamespace: test.keep\ntasks:\n  - {id: l, type: log, level: ERROR, message: kept}\n")
    old = [runner.wait(runner.start_execution("test.purge.sub", "old"), timeout=20)["id"] for _ in range(2)]
    kept = runner.wait(runner.start_execution("test.keep", "other"), timeout=20)["id"]
    s = run(runner, """
        id: purger
        namespace: test.purge
        tasks:
          - id: purge
            type: io.kestra.plugin.core.execution.PurgeExecutions
            namespace: test.purge
            endDate: "{{ now() }}"
            states: [SUCCESS]
          - id: logs
            type: io.kestra.plugin.core.log.PurgeLogs
            namespace: test.keep
            logLevels: [INFO]
            endDate: "{{ now() }}"
    """)
    assert s["state"] == "SUCCESS"
    assert out(s, "purge")["executionsCount"] == 2 and out(s, "purge")["logsCount"] == 2
    assert all(runner.store.get_execution(e) is None for e in old)
    assert runner.store.get_execution(s["id"]) is not None  # the purging execution is never deleted
    assert out(s, "logs") == {"count": 0}  # test.keep only logged at ERROR
    assert [log["message"] for log in runner.logs(kept)] == ["kept"]
    s = run(runner, """
        id: purger-all-levels
        namespace: test.purge
        tasks:
          - {id: logs, type: io.kestra.plugin.core.log.PurgeLogs, namespace: test.keep, flowId: other, endDate: "{{ now() }}"}
    """)
    assert out(s, "logs") == {"count": 1} and runner.logs(kept) == []


def test_resume_task_resumes_another_paused_execution(runner: Any) -> None:
    runner.deploy(dedent("""
        id: paused
        namespace: test.exec
        tasks:
          - id: wait
            type: pause
            onResume:
              - {id: approved, type: BOOLEAN}
          - {id: after, type: return, format: "{{ outputs.wait.onResume.approved }}"}
    """))
    paused = runner.start_execution("test.exec", "paused")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and runner.summary(paused)["state"] != "PAUSED":
        time.sleep(0.05)
    s = run(runner, """
        id: resumer
        namespace: test.exec
        inputs:
          - {id: target, type: STRING}
        tasks:
          - {id: resume, type: io.kestra.plugin.core.execution.Resume, executionId: "{{ inputs.target }}", inputs: {approved: true}}
    """, {"target": paused})
    assert s["state"] == "SUCCESS"
    resumed = runner.wait(paused, timeout=20)
    assert resumed["state"] == "SUCCESS"
    s = run(runner, """
        id: resumer-bad
        namespace: test.exec
        inputs:
          - {id: target, type: STRING}
        tasks:
          - {id: resume, type: io.kestra.plugin.core.execution.Resume, executionId: "{{ inputs.target }}", namespace: elsewhere}
          - {id: not-paused, type: io.kestra.plugin.core.execution.Resume, executionId: "{{ inputs.target }}", allowFailure: true}
    """, {"target": paused})
    assert "is not of namespace 'elsewhere'" in error_of(s, "resume")
    s = run(runner, """
        id: resumer-ended
        namespace: test.exec
        inputs:
          - {id: target, type: STRING}
        tasks:
          - {id: resume, type: io.kestra.plugin.core.execution.Resume, executionId: "{{ inputs.target }}"}
    """, {"target": paused})
    assert "is SUCCESS, not PAUSED" in error_of(s, "resume")


def test_toggle_disables_and_enables_a_trigger(runner: Any) -> None:
    runner.deploy(dedent("""
        id: scheduled
        namespace: test.exec
        tasks: [{id: l, type: log, message: tick}]
        triggers:
          - {id: hourly, type: schedule, cron: "0 * * * *"}
    """))
    toggles = dedent("""
        id: toggler
        namespace: test.exec
        inputs:
          - {id: enabled, type: BOOLEAN}
        tasks:
          - id: toggle
            type: io.kestra.plugin.core.trigger.Toggle
            flowId: scheduled
            trigger: hourly
            enabled: false
    """)
    s = runner.run(toggles, {"enabled": "false"}, timeout=20)
    assert s["state"] == "SUCCESS"
    assert TriggerStore(runner.store).get("test.exec", "scheduled", "hourly").disabled
    s = runner.run(toggles.replace("enabled: false", "enabled: true"), {"enabled": "true"}, timeout=20)
    assert not TriggerStore(runner.store).get("test.exec", "scheduled", "hourly").disabled
    s = runner.run(toggles.replace("trigger: hourly", "trigger: daily"), {"enabled": "true"}, timeout=20)
    assert "flow test.exec.scheduled has no trigger 'daily' (its triggers: hourly)" in error_of(s, "toggle")
    s = runner.run(toggles.replace("flowId: scheduled", "flowId: ghost"), {"enabled": "true"}, timeout=20)
    assert "flow test.exec.ghost does not exist" in error_of(s, "toggle")


def test_schedule_on_dates_fires_each_date_once(runner: Any) -> None:
    from engine.triggers.scheduler import Scheduler

    t0 = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)
    runner.deploy(dedent("""
        id: on-dates
        namespace: test.exec
        tasks: [{id: l, type: return, format: "{{ trigger.date }} next {{ trigger.next }}"}]
        triggers:
          - id: dates
            type: io.kestra.plugin.core.trigger.ScheduleOnDates
            timezone: Europe/Paris
            dates: ["2030-06-01T08:00:30Z", "2030-06-01T10:00:00+02:00", "2030-06-01T09:00:00Z", "2020-01-01T00:00:00Z"]
    """))
    clock = [t0]
    sched = Scheduler(runner, clock=lambda: clock[0])
    for minutes in (0, 1, 2, 30, 61, 62, 120):
        clock[0] = t0 + timedelta(minutes=minutes)
        sched.run_once(clock[0])
    runner.sync()
    found, _ = runner.store.search_executions(flow_id="on-dates", limit=10)
    dates = sorted(runner.wait(e.id, timeout=20)["trigger"]["date"] for e in found)
    # Each date once, in the trigger's time zone; the date of 2020 had passed before the trigger was deployed.
    assert dates == ["2030-06-01T10:00:00+02:00", "2030-06-01T10:00:30+02:00", "2030-06-01T11:00:00+02:00"]
    values = sorted(out(runner.summary(e.id), "l")["value"] for e in found)
    assert values[0] == "2030-06-01T10:00:00+02:00 next 2030-06-01T10:00:30+02:00"


def test_multiple_condition_on_a_flow_trigger_remembers_upstream_ends_across_scheduler_restarts(runner: Any) -> None:
    from engine.triggers.scheduler import Scheduler

    for name in ("flow-a", "flow-b"):
        runner.deploy(f"id: {name}\nnamespace: test.multi\ntasks:\n  - {{id: t, type: log, message: {name}}}\n")
    runner.deploy(dedent("""
        id: listener
        namespace: test.multi
        tasks: [{id: t, type: log, message: "after {{ trigger.flowId }}"}]
        triggers:
          - id: both
            type: io.kestra.plugin.core.trigger.Flow
            conditions:
              - type: io.kestra.plugin.core.condition.ExecutionStatus
                in: [SUCCESS]
              - id: multiple
                type: io.kestra.plugin.core.condition.MultipleCondition
                window: P1D
                windowAdvance: P0D
                conditions:
                  flow-a: {type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: test.multi, flowId: flow-a}
                  flow-b: {type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: test.multi, flowId: flow-b}
    """))

    def listened() -> int:
        runner.sync()
        return runner.store.search_executions(flow_id="listener", limit=10)[1]

    first = Scheduler(runner)
    first.run_once()
    runner.wait(runner.start_execution("test.multi", "flow-a"), timeout=20)
    first.run_once()
    first.stop()
    assert listened() == 0
    second = Scheduler(runner)  # a new scheduler reads the progress from the store
    runner.wait(runner.start_execution("test.multi", "flow-b"), timeout=20)
    second.run_once()
    assert listened() == 1
    runner.wait(runner.start_execution("test.multi", "flow-b"), timeout=20)
    second.run_once()
    assert listened() == 1  # reset after firing: flow-a must end again first


def test_kv_function_reads_a_namespace_above_and_tasks_on_unrelated_namespaces_are_refused(runner: Any) -> None:
    KvStore(runner.store).put("company", "shared", "from parent")
    KvStore(runner.store).put("other", "secretish", "no")
    s = run(runner, """
        id: kv-read
        namespace: company.team
        tasks:
          - {id: parent, type: return, format: "{{ kv('shared', 'company') }}"}
          - {id: sibling, type: return, format: "{{ kv('secretish', namespace='other') }}", allowFailure: true}
    """)
    assert out(s, "parent") == {"value": "from parent"}
    assert "may read the keys of its own namespace and of those above it, not of 'other'" in error_of(s, "sibling")
    runner.deploy("id: elsewhere\nnamespace: other.team\ntasks:\n  - {id: l, type: log, message: hi}\n"
                  "triggers:\n  - {id: hourly, type: schedule, cron: '0 * * * *'}\n")
    foreign = runner.wait(runner.start_execution("other.team", "elsewhere"), timeout=20)["id"]
    s = run(runner, """
        id: meddler
        namespace: company.team
        inputs:
          - {id: target, type: STRING}
        tasks:
          - {id: fetch, type: io.kestra.plugin.core.log.Fetch, executionId: "{{ inputs.target }}", namespace: other.team, flowId: elsewhere, allowFailure: true}
          - {id: resume, type: io.kestra.plugin.core.execution.Resume, executionId: "{{ inputs.target }}", allowFailure: true}
          - {id: toggle, type: io.kestra.plugin.core.trigger.Toggle, namespace: other.team, flowId: elsewhere, trigger: hourly, allowFailure: true}
    """, {"target": foreign})
    for task_id, what in (("fetch", "executions"), ("resume", "executions"), ("toggle", "triggers")):
        assert f"may use the {what} of its own namespace and of the namespaces above and below it, not of 'other.team'" in error_of(s, task_id)
    assert TriggerStore(runner.store).get("other.team", "elsewhere", "hourly") is None
