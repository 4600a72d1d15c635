"""The execution-summary notifications (``SlackExecution``...): what they say about an execution.

By default the execution is the current one; a flow started by a Flow trigger
sets ``executionId: "{{ trigger.executionId }}"`` to report on the execution
that triggered it. The facts come from the runner (``ctx.executions``): state,
start and duration, the first failed task, the last task, and a link to the
execution's page when the server's public URL is known (``lanner server local
--url``, ``LANNER_URL``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.sdk import Field, LannerModel, RunContext, State, TaskFailed, parse_iso

#: How long to wait for another execution to end before reporting what it is now.
WAIT_FOR_END = 30.0


class ExecutionFields(LannerModel):
    """Kestra's properties of every ``*Execution`` task (each declares ``uses_services``: it reads ``ctx.executions``)."""

    execution_id: str | None = Field(
        default=None,
        description="Execution to report on (default the current one); {{ trigger.executionId }} in a flow started by a Flow trigger.",
    )
    custom_fields: dict[str, Any] | None = Field(default=None, description="Extra fields shown in the message; values are rendered.")
    custom_message: str | None = Field(default=None, description="A sentence added to the message; rendered.")


@dataclass
class ExecutionFacts:
    """What an execution-summary message says."""

    id: str
    namespace: str
    flow_id: str
    state: str
    start_date: str | None
    duration: str
    link: str | None
    first_failed: str | None  # task id
    last_task: str | None  # task id
    custom_message: str | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"[{self.namespace}] {self.flow_id} ➛ {self.state}"

    @property
    def outcome(self) -> str:
        """``Succeeded after 00:00:01.234`` or ``Failed on task `load` after ...``."""
        verb = f"Failed on task `{self.first_failed}`" if self.first_failed else "Succeeded"
        return f"{verb} after {self.duration}"

    @property
    def colour(self) -> str:
        """Slack's attachment colour names for the state."""
        return {"SUCCESS": "good", "WARNING": "warning"}.get(self.state, "danger")

    @property
    def start_epoch(self) -> int | None:
        start = parse_iso(self.start_date) if self.start_date else None
        return int(start.timestamp()) if start else None

    def facts(self) -> list[tuple[str, str]]:
        """(name, value) pairs every service shows, custom fields included."""
        rows = [("Namespace", self.namespace), ("Flow ID", self.flow_id), ("Execution ID", self.id), ("Execution Status", self.state)]
        rows += [(str(k), v if isinstance(v, str) else _text(v)) for k, v in self.custom_fields.items()]
        rows.append(("Final task ID", self.last_task or ""))
        return rows


def gather(ctx: RunContext, props: ExecutionFields) -> ExecutionFacts:
    """Read the execution the task reports on and turn it into :class:`ExecutionFacts`."""
    current = str((ctx.variables.get("execution") or {}).get("id") or ctx.execution_id)
    wanted = str(ctx.render(props.execution_id)).strip() if props.execution_id is not None else current
    if not wanted:
        raise TaskFailed("executionId rendered empty: set it to {{ trigger.executionId }} or leave it out for this execution")
    summary = _summary(ctx, wanted, wait=wanted != current)
    is_current = wanted == current
    runs = [tr for tr in summary.get("taskRuns") or [] if tr.get("id") != ctx.task_run_id]
    state = str((ctx.variables.get("execution") or {}).get("state") or summary["state"]) if is_current else str(summary["state"])
    if is_current:
        ctx.logger.info("Loading execution data for the current execution.")
    first_failed = next((tr["taskId"] for tr in runs if tr.get("state") == "FAILED"), None)
    ordered = sorted(runs, key=lambda tr: tr.get("startDate") or "")
    custom_fields = ctx.render(props.custom_fields) if props.custom_fields else {}
    if not isinstance(custom_fields, dict):
        raise TaskFailed(f"customFields must render to a map of name to value, not {type(custom_fields).__name__}")
    return ExecutionFacts(
        id=summary["id"],
        namespace=summary["namespace"],
        flow_id=summary["flowId"],
        state=state,
        start_date=summary.get("startDate"),
        duration=human_duration(summary.get("startDate"), summary.get("endDate")),
        link=ctx.executions.page_url(summary["id"]),
        first_failed=first_failed,
        last_task=ordered[-1]["taskId"] if ordered else None,
        custom_message=str(ctx.render(props.custom_message)) if props.custom_message is not None else None,
        custom_fields=custom_fields,
    )


def _summary(ctx: RunContext, execution_id: str, *, wait: bool) -> dict[str, Any]:
    """The execution's summary; for another execution, wait (a little) until it has ended."""
    deadline = time.monotonic() + WAIT_FOR_END
    while True:
        summary = ctx.executions.summary(execution_id)
        if summary is None:
            raise TaskFailed(f"executionId: execution {execution_id!r} does not exist")
        if not wait or State(summary["state"]).terminal or time.monotonic() >= deadline:
            return summary
        if ctx.wait(0.2):
            ctx.raise_if_killed()


def human_duration(start: str | None, end: str | None) -> str:
    """Kestra's ``HH:MM:SS.mmm`` from start to end (to now while the execution runs)."""
    begin = parse_iso(start) if start else None
    if begin is None:
        return "00:00:00.000"
    finish = parse_iso(end) if end else datetime.now(UTC)
    millis = max(0, int((finish - begin).total_seconds() * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)
