"""What engine.sdk gives a type author, used for real: a task's RunContext in a runner, a polling trigger
and a condition in the scheduler (all on a real SQLite store and internal storage)."""

from __future__ import annotations

import base64
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any, ClassVar

import pytest

from engine.runtime.local import LocalRunner
from engine.runtime.secrets import SecretStore
from engine.sdk import (
    Condition,
    ConditionContext,
    Field,
    PollingTrigger,
    RunContext,
    RunnableTask,
    TaskResult,
    TriggerContext,
    TriggerEvent,
    register_condition,
    register_task,
    register_trigger,
)
from engine.triggers.scheduler import Scheduler

TOKEN = "s3cr3t-token-value"


@register_task("sdk_test.tour", group="SDK tests", title="Tour of RunContext", summary="Uses the RunContext helpers.")
class Tour(RunnableTask):
    secret_name: str = Field(description="Secret to read.")

    def run(self, ctx: RunContext) -> TaskResult:
        token = ctx.secret(self.secret_name)
        ctx.logger.info(f"using {token}")
        assert ctx.home is not None
        path = Path(ctx.home) / "tmp" / f"{ctx.task_run_id}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("made by the tour")
        uri = ctx.output_file(path, "made.txt")
        stored = ctx.storage.read_text(uri, namespace=ctx.namespace)
        return TaskResult({"uri": uri, "stored": stored, "killed": ctx.wait(0.01), "echo": token})


@register_task("sdk_test.wait", group="SDK tests", title="Wait until killed", summary="Waits, stops when killed.")
class Waiter(RunnableTask):
    def run(self, ctx: RunContext) -> TaskResult:
        ctx.logger.info("waiting")
        ctx.wait(30)
        ctx.raise_if_killed()
        return TaskResult({"waited": True})


@register_task("sdk_test.exit", group="SDK tests", title="Exit", summary="Calls sys.exit() in the worker thread.")
class Exiter(RunnableTask):
    def run(self, ctx: RunContext) -> TaskResult:
        ctx.logger.info("leaving")
        sys.exit(3)  # a BaseException: what no ``except Exception`` around a task catches


@register_task("sdk_test.exit_light", group="SDK tests", title="Exit inline",
               summary="Calls sys.exit() on the runner loop's thread (a light task runs there).")
class LightExiter(Exiter):
    light = True


@pytest.fixture
def sdk_runner(tmp_path: Path) -> Any:
    secrets = SecretStore(environ={"SECRET_TOKEN": base64.b64encode(TOKEN.encode()).decode()})
    runner = LocalRunner(tmp_path / "home", workers=4, secrets=secrets)
    yield runner
    runner.close()


def run_flow(runner: Any, source: str) -> dict[str, Any]:
    flow = runner.deploy(source)
    return runner.wait(runner.start_execution(flow.namespace, flow.id, {}), timeout=30)


def test_run_context_gives_secrets_files_storage_and_masks_the_secret(sdk_runner: Any) -> None:
    summary = run_flow(sdk_runner, "id: tour\nnamespace: sdk\ntasks:\n  - {id: t, type: sdk_test.tour, secretName: TOKEN}\n")
    assert summary["state"] == "SUCCESS", summary
    out = summary["taskRuns"][0]["outputs"]
    assert out["uri"].startswith("lanner:///sdk/tour/executions/") and out["uri"].endswith("/made.txt")
    assert out["stored"] == "made by the tour" and out["killed"] is False
    assert out["echo"] == "******"  # a secret the task read never reaches stored outputs
    logs = [line["message"] for line in sdk_runner.logs(summary["id"])]
    assert "using ******" in logs and not any(TOKEN in m for m in logs)


def test_a_missing_secret_fails_the_task_with_what_to_set(sdk_runner: Any) -> None:
    summary = run_flow(sdk_runner, "id: tour2\nnamespace: sdk\ntasks:\n  - {id: t, type: sdk_test.tour, secretName: NOPE}\n")
    assert summary["state"] == "FAILED"
    (attempt,) = summary["taskRuns"][0]["attempts"]
    assert attempt["message"] == (
        "secret 'NOPE' is not defined: set the environment variable SECRET_NOPE (base64), or add it to LANNER_SECRETS_FILE"
    )


@pytest.mark.parametrize("task_type", ["sdk_test.exit", "sdk_test.exit_light"])
def test_an_exception_that_escapes_the_worker_fails_the_attempt_and_the_flow_goes_on(sdk_runner: Any,
                                                                                      task_type: str) -> None:
    """The worker thread (or, for a light task, the runner loop) reports a FAILED attempt, logged, so retries and
    the errors branch still run."""
    summary = run_flow(sdk_runner, dedent(f"""
        id: exits
        namespace: sdk
        tasks:
          - id: x
            type: {task_type}
            retry: {{type: constant, interval: PT0.05S, maxAttempts: 2}}
        errors:
          - id: handler
            type: log
            message: handled
        """))
    assert summary["state"] == "FAILED", summary
    runs = {t["taskId"]: t for t in summary["taskRuns"]}
    assert runs["x"]["state"] == "FAILED" and len(runs["x"]["attempts"]) == 2, runs["x"]
    assert all(a["state"] == "FAILED" for a in runs["x"]["attempts"])
    assert "SystemExit: 3" in runs["x"]["attempts"][-1]["message"], runs["x"]["attempts"][-1]
    assert runs["handler"]["state"] == "SUCCESS"
    errors = [line["message"] for line in sdk_runner.logs(summary["id"]) if line["level"] == "ERROR"]
    assert any("SystemExit: 3" in message for message in errors), errors


def test_a_killed_task_stops_waiting_at_once(sdk_runner: Any) -> None:
    flow = sdk_runner.deploy("id: waits\nnamespace: sdk\ntasks:\n  - {id: w, type: sdk_test.wait}\n")
    ex = sdk_runner.start_execution(flow.namespace, flow.id, {})
    deadline = time.monotonic() + 20
    while not any(line["message"] == "waiting" for line in sdk_runner.logs(ex)):
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    start = time.monotonic()
    sdk_runner.kill(ex)
    summary = sdk_runner.wait(ex, timeout=20)
    assert summary["state"] == "KILLED" and time.monotonic() - start < 5


# --- a polling trigger and a condition, as a plugin writes them --------------------------------------


@register_trigger("sdk_test.countdown", title="Countdown", summary="Fires for each number it is told to count.")
class Countdown(PollingTrigger):
    default_interval: ClassVar[float] = 0.0
    numbers: list[int] = Field(description="Numbers to fire for (each once).")
    fail: bool = Field(default=False, description="Raise instead of polling.")

    def poll(self, ctx: TriggerContext) -> list[TriggerEvent]:
        if self.fail:
            raise RuntimeError("the source is down")
        ctx.state["polls"] = ctx.state.get("polls", 0) + 1
        return [TriggerEvent(key=str(n), variables={"n": n}, inputs={"n": n}) for n in self.numbers]


@register_condition("sdk_test.above", title="Above", summary="Lets numbers above a threshold through.")
class Above(Condition):
    threshold: int = Field(description="Numbers above this fire.")

    def test(self, ctx: ConditionContext) -> bool:
        return int(ctx.trigger["n"]) > self.threshold


COUNTDOWN = """
id: counted
namespace: sdk
inputs:
  - {id: n, type: INT}
tasks:
  - {id: t, type: log, message: "n={{ inputs.n }} trigger.n={{ trigger.n }}"}
triggers:
  - id: count
    type: sdk_test.countdown
    numbers: [1, 2, 3, 4]
    conditions:
      - {type: sdk_test.above, threshold: 2}
"""


def test_a_polling_trigger_fires_once_per_event_that_passes_its_conditions(sdk_runner: Any) -> None:
    sdk_runner.deploy(COUNTDOWN)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    scheduler = Scheduler(sdk_runner, clock=lambda: now)
    scheduler.run_once(now)
    scheduler.run_once(now + timedelta(seconds=1))  # the same events again: nothing new
    sdk_runner.sync()
    found, _ = sdk_runner.store.search_executions(flow_id="counted", limit=100)
    summaries = [sdk_runner.wait(e.id, timeout=20) for e in found]
    assert sorted(s["inputs"]["n"] for s in summaries) == [3, 4]
    assert all(s["trigger"]["type"] == "sdk_test.countdown" and s["state"] == "SUCCESS" for s in summaries)
    assert scheduler.store.get("sdk", "counted", "count").progress == {"polls": 2}  # the trigger's own state


def test_a_failing_poll_is_the_trigger_error_not_the_scheduler(sdk_runner: Any) -> None:
    sdk_runner.deploy(COUNTDOWN.replace("numbers: [1, 2, 3, 4]", "numbers: [5]\n    fail: true"))
    scheduler = Scheduler(sdk_runner)
    scheduler.run_once()
    (row,) = [r for r in scheduler.describe() if r["triggerId"] == "count"]
    assert row["lastError"] == "poll failed: RuntimeError: the source is down"
    assert row["type"] == "sdk_test.countdown"
