"""Flowable tasks that repeat or absorb their children: LoopUntil (Kestra's WaitFor) and AllowFailure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from pydantic import Field

from engine.sdk import (
    AnyTask,
    ChildList,
    Duration,
    FlowableRun,
    FlowableTask,
    LannerModel,
    State,
    parse_iso,
    register_task,
    run_sequence,
    truthy,
    with_handlers,
)


class CheckFrequency(LannerModel):
    """How often LoopUntil runs its tasks again, and when it gives up."""

    interval: Duration | None = Field(default=None, description="Wait between two rounds (LoopUntil: PT1M, WaitFor: PT1S).")
    max_iterations: int | None = Field(default=None, ge=1, description="At most this many rounds (LoopUntil: no limit, WaitFor: 100).")
    max_duration: Duration | None = Field(default=None, description="Give up after this long (LoopUntil: no limit, WaitFor: PT1H).")


#: Kestra's defaults: LoopUntil since 0.23, and WaitFor (the older name) before it.
LOOP_UNTIL_DEFAULTS = (timedelta(minutes=1), None, None)
WAIT_FOR_DEFAULTS = (timedelta(seconds=1), 100, timedelta(hours=1))


@register_task(
    "loop_until",
    "io.kestra.plugin.core.flow.LoopUntil",
    "io.kestra.plugin.core.flow.WaitFor",
    group="Flow control",
    title="Loop until",
    icon="🔄",
    summary="Run tasks again and again (every interval) until a condition on their outputs is true.",
)
class LoopUntil(FlowableTask):
    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks"),)
    condition: str | bool = Field(description="Checked after each round; true ends the loop. The round's outputs are readable.")
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks run in each round.")
    fail_on_max_reached: bool = Field(default=False, description="Fail when maxIterations or maxDuration is reached (else succeed).")
    check_frequency: CheckFrequency | None = Field(default=None, description="interval, maxIterations, maxDuration.")

    def _limits(self) -> tuple[timedelta, int | None, timedelta | None]:
        """(interval, max rounds, max duration): the flow's, else the defaults of the type name it used."""
        interval, rounds, duration = WAIT_FOR_DEFAULTS if self.type.endswith("WaitFor") else LOOP_UNTIL_DEFAULTS
        given = self.check_frequency
        if given is None:
            return interval, rounds, duration
        fields = given.model_fields_set
        return (
            given.interval if "interval" in fields and given.interval is not None else interval,
            given.max_iterations if "max_iterations" in fields else rounds,
            given.max_duration if "max_duration" in fields else duration,
        )

    def _start_round(self, run: FlowableRun, number: int) -> None:
        run.task_run.meta["round"] = number
        run.task_run.meta.pop("waiting", None)
        run.execution_state.set_outputs(run.task_run, {"iterationCount": number})  # {{ outputs.<id>.iterationCount }}

    def expand(self, run: FlowableRun) -> None:
        self._start_round(run, 1)

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        tr = run.task_run
        number = tr.meta.get("round", 1)
        state = run_sequence(run, self.tasks, number, tr.value)
        for child in run.scope(number).values():
            child.meta.setdefault("loopRound", number)  # its outputs replace the previous round's
        if state is None or tr.meta.get("waiting"):
            return None
        if state.failed:
            return state
        if truthy(run.render("condition", self.condition)):
            return state
        interval, max_rounds, max_duration = self._limits()
        started = parse_iso(tr.start_date) or datetime.now(UTC)
        if max_rounds is not None and number >= max_rounds:
            return self._give_up(run, state, f"maxIterations ({max_rounds}) reached")
        if max_duration is not None and datetime.now(UTC) - started >= max_duration:
            return self._give_up(run, state, f"maxDuration ({max_duration}) reached")
        tr.meta["waiting"] = True
        run.set_timer(interval.total_seconds(), "loop-next")
        return None

    def _give_up(self, run: FlowableRun, state: State, why: str) -> State:
        run.log("WARN", f"{self.id}: {why} before the condition became true")
        return State.FAILED if self.fail_on_max_reached else state

    def on_timer(self, run: FlowableRun, kind: str) -> None:
        tr = run.task_run
        if kind != "loop-next" or tr.state.terminal or not tr.meta.get("waiting"):
            return
        self._start_round(run, tr.meta.get("round", 1) + 1)
        run.reevaluate()

    def restore(self, run: FlowableRun) -> None:
        tr = run.task_run
        run.execution_state.set_outputs(tr, {"iterationCount": tr.meta.get("round", 1)})
        if tr.meta.get("waiting"):
            run.set_timer(self._limits()[0].total_seconds(), "loop-next")  # timers live in memory only

    def reset(self, run: FlowableRun) -> None:
        run.task_run.meta.pop("waiting", None)  # a restart re-runs the round that failed


@register_task(
    "allow_failure",
    "io.kestra.plugin.core.flow.AllowFailure",
    "io.kestra.core.tasks.flows.AllowFailure",
    group="Flow control",
    title="Allow failure",
    icon="🛟",
    summary="Run tasks in order; if one fails, the block stops and ends in WARNING, and the flow goes on.",
)
class AllowFailure(FlowableTask):
    child_lists: ClassVar[tuple[ChildList, ...]] = (ChildList("tasks"),)
    tasks: list[AnyTask] = Field(min_length=1, description="Tasks run one after another; a failure ends the block in WARNING.")

    def advance(self, run: FlowableRun, iteration: int | None) -> State | None:
        return run_sequence(run, self.tasks, None, run.task_run.value)

    def resolve_state(self, run: FlowableRun, iteration: int | None) -> State | None:
        main = self.advance(run, iteration)
        if main is None:
            return None
        if main == State.KILLED:
            return main
        state = with_handlers(run, main, self.errors, self.finally_, run.task_run.value)
        if state is None:
            return None
        return State.WARNING if main.failed or state.failed else state

