"""One contract for both Engines: every test runs on the in-process LocalEngine and on HttpEngine.

The two engines share one server: a runner, a running scheduler and the REST API
(``engine.api.app.create_app``) served by uvicorn on 127.0.0.1. ``local`` is the
LocalEngine the API itself uses; ``http`` is HttpEngine talking to that API. Each
test works in its own namespace (one per engine), so it depends on no other test.
The last test reads the same records through both and finds equal views.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from textwrap import dedent

import pytest

from engine.client import HttpEngine
from engine.local_engine import LocalEngine
from engine.model.inputs import InputError
from engine.model.state import State
from engine.model.validation import FlowValidationError
from engine.model.views import ExecutionSummary
from engine.model.views_live import EndEvent, LogEvent, StateEvent
from engine.runtime.masking import MASK
from engine.service import Conflict, Engine, Invalid, NotFound
from tests.integration.server_process import serve_in_thread


@dataclass
class Served:
    local: LocalEngine
    http: HttpEngine


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from engine.api.app import create_app
    from engine.runtime.local import LocalRunner
    from engine.triggers.scheduler import Scheduler

    runner = LocalRunner(tmp_path_factory.mktemp("contract-home"), workers=4)
    scheduler = Scheduler(runner)
    scheduler.start()
    local = LocalEngine(runner, scheduler=scheduler)
    with serve_in_thread(create_app(local, ui=False)) as url:
        http = HttpEngine(url, poll=0.05)
        yield Served(local, http)
        http.close()
    scheduler.stop()
    runner.close()


@pytest.fixture(params=["local", "http"])
def engine(request: pytest.FixtureRequest, served: Served) -> Engine:
    return served.local if request.param == "local" else served.http


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    """A namespace of this test and this engine."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.lower().removeprefix("test_"))[:60].strip("-")
    return f"contract.{request.node.callspec.params.get('engine', 'both')}.{name}"


def flow(ns: str, body: str, flow_id: str = "f") -> str:
    return f"id: {flow_id}\nnamespace: {ns}\n" + dedent(body).strip() + "\n"


def until(engine: Engine, execution_id: str, states: set[str], timeout: float = 30) -> ExecutionSummary:
    deadline = time.monotonic() + timeout
    while True:
        summary = engine.summary(execution_id)
        assert summary is not None
        if summary.state in states:
            return summary
        assert time.monotonic() < deadline, f"{execution_id} is {summary.state}, never {states}"
        time.sleep(0.05)


def run(engine: Engine, source: str, inputs: dict[str, object] | None = None) -> ExecutionSummary:
    info = engine.deploy(source)
    return engine.wait(engine.start(info.namespace, info.id, inputs), timeout=60)


def runs(summary: ExecutionSummary) -> dict[str, object]:
    return {tr.task_id: tr.outputs for tr in summary.task_runs}


GREET = """
    description: Greets **someone**
    labels: {team: data}
    inputs:
      - {id: n, type: INT, defaults: 1}
    tasks:
      - {id: hello, type: log, message: "hello {{ inputs.n }}"}
      - {id: warn, type: log, level: WARN, message: "careful"}
      - {id: answer, type: return, format: "n={{ inputs.n }}"}
"""


# --- flows --------------------------------------------------------------------------------------------



def user_labels(labels: dict[str, str]) -> dict[str, str]:
    """The labels a flow or a user set: Kestra's system.* labels (system.correlationId on every execution) left out."""
    return {k: v for k, v in labels.items() if not k.startswith("system.")}

def test_validate_names_every_error_with_its_line(engine: Engine, ns: str) -> None:
    good = engine.validate(flow(ns, GREET))
    assert good.valid and good.errors == [] and (good.namespace, good.flow_id) == (ns, "f")
    bad = engine.validate(flow(ns, "tasks:\n  - {id: a, type: log}\n  - {id: b, type: no_such_task}"))
    assert not bad.valid and (bad.namespace, bad.flow_id) == (ns, "f")
    assert {e.path for e in bad.errors} >= {"tasks[0].message", "tasks[1].type"}
    assert all(e.line for e in bad.errors), bad.errors


def test_deploy_keeps_revisions_and_refuses_an_invalid_flow(engine: Engine, ns: str) -> None:
    first = engine.deploy(flow(ns, GREET))
    assert (first.namespace, first.id, first.revision) == (ns, "f", 1)
    assert first.description == "Greets **someone**" and first.labels == {"team": "data"} and first.source == flow(ns, GREET)
    assert engine.deploy(flow(ns, GREET)).revision == 1  # unchanged source, same revision
    changed = flow(ns, GREET.replace("careful", "very careful"))
    assert engine.deploy(changed).revision == 2
    assert [r.revision for r in engine.flow_revisions(ns, "f")] == [1, 2]
    assert engine.flow(ns, "f", 1).source == flow(ns, GREET) and engine.flow(ns, "f").source == changed
    assert [i.id for i in engine.definition(ns, "f").inputs] == ["n"] and engine.definition(ns, "f").revision == 2
    with pytest.raises(FlowValidationError) as refused:
        engine.deploy(flow(ns, "tasks:\n  - {id: a, type: log}"))
    assert refused.value.errors[0].path == "tasks[0].message" and refused.value.errors[0].line == 4
    assert engine.flow(ns, "missing") is None and engine.flow_revisions(ns, "missing") == []
    with pytest.raises(NotFound):
        engine.definition(ns, "missing")


def test_search_and_delete_flows(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, GREET, "alpha"))
    engine.deploy(flow(ns + ".sub", GREET.replace("team: data", "team: ops").replace("someone", "the world"), "beta"))
    assert [f.id for f in engine.search_flows(namespace=ns)] == ["alpha", "beta"]
    assert [f.id for f in engine.search_flows(namespace=ns, q="WORLD")] == ["beta"]
    assert [f.id for f in engine.search_flows(namespace=ns, labels={"team": "data"})] == ["alpha"]
    engine.delete_flow(ns, "alpha")
    assert engine.flow(ns, "alpha") is None and [f.id for f in engine.search_flows(namespace=ns)] == ["beta"]
    assert [r.deleted for r in engine.flow_revisions(ns, "alpha")] == [False, True]
    with pytest.raises(NotFound):
        engine.delete_flow(ns, "alpha")


def test_a_flow_s_labels_read_as_its_executions_get_them(engine: Engine, ns: str) -> None:
    """The flow list reads labels with the loader flows are validated with (YAML 1.2): ``on`` stays text and a date
    stays as written, as on the flow's executions; YAML 1.1 made them True and a date object."""
    source = flow(ns, """
        labels: {approved: on, since: 2024-01-01}
        tasks:
          - {id: hello, type: log, message: hi}
    """)
    expected = {"approved": "on", "since": "2024-01-01"}
    assert engine.deploy(source).labels == expected
    assert [f.id for f in engine.search_flows(namespace=ns, labels={"approved": "on"})] == ["f"]
    assert user_labels(engine.wait(engine.start(ns, "f"), timeout=60).labels) == expected


# --- executions ------------------------------------------------------------------------------------


def test_start_wait_summary_logs_and_search(engine: Engine, ns: str) -> None:
    info = engine.deploy(flow(ns, GREET))
    ex_id = engine.start(ns, "f", {"n": "3"}, labels={"run": "one"})
    done = engine.wait(ex_id, timeout=60)
    assert done.state == State.SUCCESS and done.ended and done.inputs == {"n": 3}
    assert user_labels(done.labels) == {"team": "data", "run": "one"} and done.flow_revision == info.revision
    assert runs(done)["answer"] == {"value": "n=3"}
    assert engine.summary(ex_id) == done
    lines = engine.logs(ex_id)
    assert [(line.task_id, line.level, line.message) for line in lines] == [("hello", "INFO", "hello 3"), ("warn", "WARN", "careful")]
    assert [line.message for line in engine.logs(ex_id, min_level="WARN")] == ["careful"]
    assert [line.message for line in engine.logs(ex_id, task_id="hello")] == ["hello 3"]
    assert [line.message for line in engine.logs(ex_id, after_id=lines[0].id)] == ["careful"]
    other = engine.start(ns, "f")
    engine.wait(other, timeout=60)
    page = engine.search_executions(namespace=ns, flow_id="f", states=[State.SUCCESS], size=1)
    assert page.total == 2 and [e.id for e in page.results] == [other] and page.results[0].task_runs == []
    assert [e.id for e in engine.search_executions(namespace=ns, labels={"run": "one"}).results] == [ex_id]
    assert engine.search_executions(namespace=ns, states=[State.FAILED]).total == 0
    assert engine.summary("nope") is None
    assert engine.wait_ended(ex_id, 0) is True
    with pytest.raises(NotFound):
        engine.wait("nope", timeout=1)
    with pytest.raises(NotFound):
        engine.wait_ended("nope", 1)
    with pytest.raises(NotFound):
        engine.logs("nope")


def test_secret_inputs_read_masked_while_tasks_get_the_real_values(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, """
        inputs:
          - {id: password, type: SECRET}
          - {id: db.token, type: SECRET}
          - {id: pin, type: SECRET}
          - {id: user, type: STRING}
        tasks:
          - {id: say, type: log, message: "password={{ inputs.password }} token={{ inputs.db.token }} user={{ inputs.user }}"}
          - {id: digest, type: return, format: "{{ inputs.password | sha256 }}/{{ inputs.db.token | sha256 }}"}
    """))
    given = {"password": "hunter2-contract", "db.token": "tok-0123456789", "pin": "42", "user": "bob"}
    real = f"{sha256(b'hunter2-contract').hexdigest()}/{sha256(b'tok-0123456789').hexdigest()}"
    hidden = {"password": MASK, "db": {"token": MASK}, "pin": MASK, "user": "bob"}  # "42": too short for the log masker
    done = engine.wait(engine.start(ns, "f", given), timeout=60)
    assert done.state == State.SUCCESS and done.inputs == hidden
    assert runs(done)["digest"] == {"value": real}  # the task rendered the real values
    assert [line.message for line in engine.logs(done.id)] == [f"password={MASK} token={MASK} user=bob"]
    assert engine.summary(done.id) == done
    assert [e.inputs for e in engine.search_executions(namespace=ns).results] == [hidden]
    replayed = engine.wait(engine.replay(done.id).id, timeout=60)  # a replay runs with the stored real values
    assert replayed.inputs == hidden and runs(replayed)["digest"] == {"value": real}
    assert [line.message for line in engine.logs(replayed.id)] == [f"password={MASK} token={MASK} user=bob"]


def test_bad_inputs_unknown_and_disabled_flows_are_refused(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, GREET))
    with pytest.raises(InputError) as refused:
        engine.start(ns, "f", {"n": "lots"})
    assert [e.input_id for e in refused.value.errors] == ["n"] and "n" in str(refused.value)
    assert engine.search_executions(namespace=ns).total == 0  # nothing was created
    with pytest.raises(NotFound):
        engine.start(ns, "missing")
    engine.deploy(flow(ns, "disabled: true\n" + dedent(GREET).strip(), "off"))
    with pytest.raises(Conflict, match="disabled"):
        engine.start(ns, "off")


def test_follow_streams_logs_and_states_then_ends(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, """
        tasks:
          - {id: one, type: log, message: first}
          - {id: nap, type: sleep, duration: PT0.3S}
          - {id: two, type: log, message: second}
    """))
    events = list(engine.follow(engine.start(ns, "f")))
    assert isinstance(events[-1], EndEvent) and events[-1].state == State.SUCCESS
    assert [e.line.message for e in events if isinstance(e, LogEvent)] == ["first", "second"]
    states = [e for e in events if isinstance(e, StateEvent)]
    assert len(states) >= 2 and {tr.task_id: tr.state for tr in states[-1].task_runs} == {
        "one": State.SUCCESS, "nap": State.SUCCESS, "two": State.SUCCESS}
    with pytest.raises(NotFound):
        list(engine.follow("nope"))


def test_kill_then_delete(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, "tasks:\n  - {id: nap, type: sleep, duration: PT60S}"))
    ex_id = engine.start(ns, "f")
    until(engine, ex_id, {"RUNNING"})
    assert engine.wait_ended(ex_id, 0.2) is False
    with pytest.raises(Conflict, match="kill it before deleting it"):
        engine.delete_execution(ex_id)
    assert engine.kill(ex_id).state in (State.KILLING, State.KILLED)
    assert engine.wait(ex_id, timeout=30).state == State.KILLED
    assert engine.wait_ended(ex_id, 0) is True
    with pytest.raises(Conflict, match="already ended"):
        engine.kill(ex_id)
    engine.delete_execution(ex_id)
    assert engine.summary(ex_id) is None
    with pytest.raises(NotFound):
        engine.delete_execution(ex_id)


def test_pause_and_resume_with_inputs(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, """
        tasks:
          - id: approve
            type: pause
            onResume:
              - {id: approved, type: BOOLEAN}
          - {id: after, type: return, format: "{{ outputs.approve.onResume.approved }}"}
    """))
    ex_id = engine.start(ns, "f")
    until(engine, ex_id, {"PAUSED"})
    with pytest.raises(InputError) as refused:
        engine.resume(ex_id, {"approved": "maybe"})
    assert [e.input_id for e in refused.value.errors] == ["approved"]
    engine.resume(ex_id, {"approved": True})
    done = engine.wait(ex_id, timeout=30)
    assert done.state == State.SUCCESS and runs(done)["approve"] == {"onResume": {"approved": True}}
    with pytest.raises(Conflict, match="not PAUSED"):
        engine.resume(ex_id)


def test_restart_reruns_the_failed_task_run(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, """
        tasks:
          - {id: first, type: return, format: kept}
          - {id: gate, type: fail, condition: "{{ kv('go', errorOnMissing=false) != 'ok' }}", message: not yet}
    """))
    failed = engine.wait(engine.start(ns, "f"), timeout=30)
    assert failed.state == State.FAILED
    engine.deploy(flow(ns, GREET, "ok"))
    succeeded = engine.wait(engine.start(ns, "ok"), timeout=30)
    with pytest.raises(Conflict, match="only FAILED or KILLED"):
        engine.restart(succeeded.id)
    engine.kv_put(ns, "go", "ok")
    engine.restart(failed.id)
    done = engine.wait(failed.id, timeout=30)
    assert done.id == failed.id and done.state == State.SUCCESS
    by_task = {tr.task_id: tr for tr in done.task_runs}
    assert len(by_task["gate"].attempts) == 2 and len(by_task["first"].attempts) == 1


def test_replay_from_a_task_run_is_a_new_execution(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, """
        tasks:
          - {id: a, type: return, format: "{{ execution.id }}"}
          - {id: b, type: return, format: "{{ execution.id }}"}
    """))
    original = engine.wait(engine.start(ns, "f"), timeout=30)
    b_run = next(tr for tr in original.task_runs if tr.task_id == "b")
    replay = engine.replay(original.id, b_run.id)
    assert replay.id != original.id
    done = engine.wait(replay.id, timeout=30)
    assert done.state == State.SUCCESS
    assert runs(done) == {"a": {"value": original.id}, "b": {"value": replay.id}}  # a copied, b run again
    assert runs(engine.wait(engine.replay(original.id).id, timeout=30))["a"] != {"value": original.id}
    with pytest.raises(Invalid) as refused:
        engine.replay(original.id, "no-such-task-run")
    assert refused.value.errors and refused.value.errors[0].path == "taskRunId"
    engine.deploy(flow(ns, "tasks:\n  - {id: nap, type: sleep, duration: PT60S}", "slow"))
    running = engine.start(ns, "slow")
    with pytest.raises(Conflict, match="replay it once it has ended"):
        engine.replay(running)
    engine.kill(running)


def test_labels_of_an_ended_execution(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, GREET))
    done = engine.wait(engine.start(ns, "f"), timeout=30)
    assert user_labels(engine.set_labels(done.id, {"reviewed": "yes"}).labels) == {"team": "data", "reviewed": "yes"}
    assert user_labels(engine.summary(done.id).labels) == {"team": "data", "reviewed": "yes"}
    assert user_labels(engine.wait(done.id).labels) == {"team": "data", "reviewed": "yes"}
    with pytest.raises(Invalid):
        engine.set_labels(done.id, {"k" * 101: "v"})
    engine.deploy(flow(ns, "tasks:\n  - {id: nap, type: sleep, duration: PT60S}", "slow"))
    running = engine.start(ns, "slow")
    with pytest.raises(Conflict, match="set labels once it has ended"):
        engine.set_labels(running, {"a": "b"})
    engine.kill(running)


def test_search_executions_by_text_order_and_page(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, GREET))
    # Label values with letters no hex id holds: "b1" matched ids whose random counter part held "b1".
    ids = [engine.start(ns, "f", labels={"batch": f"run{i}"}) for i in range(3)]
    for ex_id in ids:
        engine.wait(ex_id, timeout=30)
    newest = engine.search_executions(namespace=ns, size=2)
    assert [e.id for e in newest.results] == ids[::-1][:2] and newest.total == 3
    oldest = engine.search_executions(namespace=ns, sort="asc", size=2, page=2)
    assert [e.id for e in oldest.results] == ids[2:]
    assert [e.id for e in engine.search_executions(namespace=ns, q="RUN1").results] == [ids[1]]  # a label, any case
    assert engine.search_executions(q=ids[0][:12]).total == 1  # the id
    assert engine.search_executions(namespace=ns, q="50%_").total == 0  # LIKE's wildcards match themselves


def test_search_logs_across_executions(engine: Engine, ns: str) -> None:
    first = run(engine, flow(ns, GREET))
    second = run(engine, flow(ns, GREET, "g"))
    every = engine.search_logs(namespace=ns, min_level="INFO", size=100)
    assert {line.execution_id for line in every.results} == {first.id, second.id}
    assert [line.id for line in every.results] == sorted((line.id for line in every.results), reverse=True)
    assert all(line.namespace == ns and line.flow_id in ("f", "g") for line in every.results)
    warned = engine.search_logs(namespace=ns, flow_id="g", min_level="WARN")
    assert [(line.execution_id, line.message) for line in warned.results] == [(second.id, "careful")]
    assert warned.total == 1
    assert engine.search_logs(namespace=ns, q="HELLO 1", size=1).total == 2
    page2 = engine.search_logs(namespace=ns, min_level="INFO", size=2, page=2)
    assert [line.id for line in page2.results] == [line.id for line in every.results][2:4]
    assert engine.search_logs(namespace=ns, after=datetime.now(UTC) + timedelta(hours=1)).total == 0


def test_change_task_run_state_lets_the_flow_go_on(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, """
        tasks:
          - {id: gate, type: fail, message: stop here}
          - {id: after, type: return, format: ran}
    """))
    failed = engine.wait(engine.start(ns, "f"), timeout=30)
    gate = next(tr for tr in failed.task_runs if tr.task_id == "gate")
    assert [h.state for h in failed.state_history] == [State.CREATED, State.RUNNING, State.FAILED]
    with pytest.raises(Invalid) as refused:
        engine.change_task_run_state(failed.id, gate.id, State.RUNNING)
    assert refused.value.errors and refused.value.errors[0].path == "state"
    with pytest.raises(NotFound):
        engine.change_task_run_state(failed.id, "no-such-task-run", State.SUCCESS)
    engine.change_task_run_state(failed.id, gate.id, State.SUCCESS)
    done = until(engine, failed.id, {State.SUCCESS, State.FAILED})
    assert done.state == State.SUCCESS
    assert {tr.task_id: str(tr.state) for tr in done.task_runs} == {"gate": "SUCCESS", "after": "SUCCESS"}
    assert [h.state for h in done.state_history][-3:] == [State.RESTARTED, State.RUNNING, State.SUCCESS]
    assert [h.state for h in next(tr for tr in done.task_runs if tr.task_id == "gate").state_history][-1] == State.SUCCESS
    engine.deploy(flow(ns, "tasks:\n  - {id: nap, type: sleep, duration: PT60S}", "slow"))
    running = engine.start(ns, "slow")
    with pytest.raises(Conflict, match="once the execution has ended"):
        engine.change_task_run_state(running, gate.id, State.SUCCESS)
    engine.kill(running)


# --- files ----------------------------------------------------------------------------------------


def test_file_input_is_uploaded_and_downloaded(engine: Engine, ns: str, tmp_path: Path) -> None:
    engine.deploy(flow(ns, """
        inputs:
          - {id: data, type: FILE}
        tasks:
          - {id: show, type: log, message: "{{ read(inputs.data) }}"}
    """))
    local = tmp_path / "report.csv"
    local.write_bytes(b"a,b\n1,2\n")
    done = engine.wait(engine.start(ns, "f", {"data": local}), timeout=30)
    assert done.state == State.SUCCESS and [line.message for line in engine.logs(done.id)] == ["a,b\n1,2\n"]
    uri = done.inputs["data"]
    with engine.download(done.id, uri) as found:
        assert found.name == "report.csv" and found.read() == b"a,b\n1,2\n"
    other = engine.wait(engine.start(ns, "f", {"data": local}), timeout=30)
    with pytest.raises(Invalid, match="is not a file of execution"):
        engine.download(other.id, uri)
    with pytest.raises(NotFound):
        engine.download(done.id, uri.rsplit("/", 1)[0] + "/missing.csv")
    with pytest.raises(Invalid):
        engine.download(done.id, "/etc/passwd")


def test_namespace_files(engine: Engine, ns: str, tmp_path: Path) -> None:
    written = engine.write_namespace_file(ns, "lib/util.py", b"X = 1\n")
    assert (written.path, written.size) == ("lib/util.py", 6)
    assert engine.read_namespace_file(ns, "lib/util.py") == b"X = 1\n"
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "data.txt").write_text("hi")
    (tmp_path / "pkg" / "top.txt").write_text("top")
    (tmp_path / "pkg" / ".git").mkdir()
    (tmp_path / "pkg" / ".git" / "HEAD").write_text("ref")
    assert sorted(f.path for f in engine.upload_namespace_dir(ns, tmp_path / "pkg")) == ["sub/data.txt", "top.txt"]
    assert [(f.path, f.size) for f in engine.namespace_files(ns)] == [("lib/util.py", 6), ("sub/data.txt", 2), ("top.txt", 3)]
    assert [f.path for f in engine.namespace_files(ns, "lib/")] == ["lib/util.py"]
    engine.delete_namespace_file(ns, "lib/util.py")
    with pytest.raises(NotFound):
        engine.read_namespace_file(ns, "lib/util.py")
    for bad in ("../escape.txt", "a/../../b"):
        with pytest.raises(Invalid):
            engine.write_namespace_file(ns, bad, b"x")
    with pytest.raises(Invalid, match="namespace"):
        engine.namespace_files("Not A Namespace")


def test_key_value_store(engine: Engine, ns: str) -> None:
    assert engine.kv_put(ns, "text", "hello").type == "STRING"
    assert engine.kv_put(ns, "count", 3).value == 3
    entry = engine.kv_put(ns, "conf", {"a": [1, 2]})
    assert (entry.namespace, entry.key, entry.type, entry.value) == (ns, "conf", "JSON", {"a": [1, 2]})
    assert engine.kv_get(ns, "conf") == entry
    assert [(e.key, e.value) for e in engine.kv_list(ns)] == [("conf", {"a": [1, 2]}), ("count", 3), ("text", "hello")]
    engine.kv_delete(ns, "text")
    assert engine.kv_get(ns, "text") is None
    with pytest.raises(NotFound):
        engine.kv_delete(ns, "text")
    with pytest.raises(Invalid):
        engine.kv_put(ns, "bad key!", 1)
    tree = {n.id: n for n in engine.namespaces()}
    assert tree[ns].parent == ns.rpartition(".")[0] and tree["contract"].parent is None


# --- triggers and backfills -------------------------------------------------------------------------


def test_triggers_and_backfills(engine: Engine, ns: str) -> None:
    engine.deploy(flow(ns, """
        tasks:
          - {id: tick, type: log, message: "{{ trigger.date }}"}
        triggers:
          - {id: hourly, type: schedule, cron: "0 * * * *", timezone: Europe/Paris}
          - {id: hook, type: webhook, key: contract-webhook-key-0123456789}
    """))
    found = {t.trigger_id: t for t in engine.triggers(namespace=ns)}
    assert set(found) == {"hourly", "hook"} and found["hourly"].cron == "0 * * * *"
    assert found["hourly"].next_execution_date and not found["hourly"].disabled
    assert engine.set_trigger_disabled(ns, "f", "hourly", True).disabled
    assert [t.disabled for t in engine.triggers(namespace=ns, q="hourly")] == [True]
    assert not engine.set_trigger_disabled(ns, "f", "hourly", False).disabled
    with pytest.raises(NotFound):
        engine.set_trigger_disabled(ns, "f", "nope", True)
    backfill = engine.backfill(ns, "f", "hourly", "2024-01-01T00:00:00Z", "2024-01-05T04:00:00Z", labels={"why": "test"})
    assert (backfill.total, backfill.labels) == (100, {"why": "test"})
    assert engine.change_backfill(backfill.id, "pause").state == "PAUSED"
    assert engine.get_backfill(backfill.id).paused
    assert engine.change_backfill(backfill.id, "cancel").state == "CANCELLED"
    with pytest.raises(Conflict, match="cannot unpause"):
        engine.change_backfill(backfill.id, "unpause")
    assert [b.id for b in engine.backfills(namespace=ns)] == [backfill.id]
    assert engine.get_backfill("nope") is None
    with pytest.raises(Invalid, match="only Schedule triggers"):
        engine.backfill(ns, "f", "hook", "2024-01-01T00:00:00Z")
    with pytest.raises(NotFound):
        engine.backfill(ns, "f", "nope", "2024-01-01T00:00:00Z")


# --- both engines see the same records ------------------------------------------------------------


def test_local_and_http_read_equal_views(served: Served) -> None:
    ns = "contract.both"
    done = run(served.local, flow(ns, GREET), {"n": 2})
    served.local.kv_put(ns, "k", {"v": 1})
    local, http = served.local, served.http
    assert http.summary(done.id) == local.summary(done.id) == done
    assert http.wait(done.id) == local.wait(done.id)
    assert http.logs(done.id) == local.logs(done.id)
    assert http.flow(ns, "f") == local.flow(ns, "f")
    assert http.definition(ns, "f").inputs == local.definition(ns, "f").inputs
    assert http.search_executions(namespace=ns) == local.search_executions(namespace=ns)
    assert http.kv_list(ns) == local.kv_list(ns)
    assert http.namespaces() == local.namespaces()
    assert http.triggers(namespace=ns) == local.triggers(namespace=ns)
    assert list(http.follow(done.id)) == list(local.follow(done.id))
