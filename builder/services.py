"""What the builder pages call: one object over the Engine (the server's in-process one).

Pages never reach the engine directly and never go over HTTP to their own
server: they call :class:`Services`, which turns the Engine's typed answers
into what a page shows (rows, dashboard figures, trigger lists). Keeping every
engine call here means the pages are plain layout code and the contract with
the engine is the :class:`engine.service.Engine` protocol, nothing more.
"""

from __future__ import annotations

import difflib
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from builder.history import HistoryServices
from builder.services_assist import AssistServices
from engine.model.inputs import Input
from engine.model.state import TERMINAL, State
from engine.model.yaml_loader import load_yaml
from engine.service import Conflict, Download, Engine, LogLevel, NotFound, Unavailable

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


@dataclass
class FlowRow:
    """One flow of the Flows page (latest revision)."""

    namespace: str
    id: str
    revision: int
    description: str
    labels: dict[str, str]
    last_state: str | None
    last_execution: str | None
    updated: str


@dataclass
class SaveResult:
    """Outcome of saving flow YAML: a revision, or the validator's errors (one sentence each)."""

    revision: int | None = None
    namespace: str | None = None
    flow_id: str | None = None
    errors: list[str] = field(default_factory=list)
    conflict: bool = False  # refused because someone saved another revision in between

    @property
    def ok(self) -> bool:
        return self.revision is not None


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def duration_of(start: str | None, end: str | None) -> float | None:
    a, b = parse_time(start), parse_time(end)
    return (b - a).total_seconds() if a and b else None


class Services(HistoryServices, AssistServices):
    """The builder's door to the engine (one per server, shared by every browser session).

    Searches, bulk actions and dependencies live in :class:`builder.history.HistoryServices`; templates,
    namespace files, KV, task tests and expression previews in :class:`builder.services_assist.AssistServices`.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    # --- flows ----------------------------------------------------------------------------------

    def list_flows(self, search: str = "", namespace: str | None = None) -> list[FlowRow]:
        """Latest revision of each flow, filtered by a free-text search over id, namespace, labels."""
        words = search.lower().split()
        rows = []
        last = self.last_states()
        for info in self.engine.search_flows(namespace=namespace or None):
            text = " ".join([info.namespace, info.id, info.description or "",
                             *(f"{k}:{v}" for k, v in info.labels.items())]).lower()
            if not all(w in text for w in words):
                continue
            state, ex_id = last.get((info.namespace, info.id), (None, None))
            rows.append(FlowRow(info.namespace, info.id, info.revision, info.description or "", dict(info.labels),
                                state, ex_id, info.updated or ""))
        return rows

    def namespaces(self) -> list[str]:
        """Every namespace of a flow and each of its parents ("a", "a.b", "a.b.c"), sorted."""
        out: set[str] = set()
        for info in self.engine.search_flows():
            parts = info.namespace.split(".")
            out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        return sorted(out)

    def last_states(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(namespace, flow id) -> (state, execution id) of its most recent execution."""
        out: dict[tuple[str, str], tuple[str, str]] = {}
        for ex in self.engine.search_executions(size=2000).results:  # newest first
            out.setdefault((ex.namespace, ex.flow_id), (str(ex.state), ex.id))
        return out

    def flow_source(self, namespace: str, flow_id: str, revision: int | None = None) -> str | None:
        info = self.engine.flow(namespace, flow_id, revision)
        return None if info is None else info.source

    def revisions(self, namespace: str, flow_id: str) -> list[dict[str, Any]]:
        return [{"revision": r.revision, "updated": r.updated, "deleted": r.deleted}
                for r in self.engine.flow_revisions(namespace, flow_id)]

    def diff(self, namespace: str, flow_id: str, old: int, new: int) -> str:
        """Unified diff between two revisions of a flow's YAML."""
        a = self.flow_source(namespace, flow_id, old) or ""
        b = self.flow_source(namespace, flow_id, new) or ""
        return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                            fromfile=f"revision {old}", tofile=f"revision {new}"))

    def latest_revision(self, namespace: str, flow_id: str) -> int | None:
        """The newest stored revision of a flow (None when it does not exist or was deleted)."""
        info = self.engine.flow(namespace, flow_id)
        return None if info is None or info.deleted else info.revision

    def save_flow(self, text: str, expected_revision: int | None = None, check: bool = False) -> SaveResult:
        """Validate with the CLI's validator and store a revision; invalid YAML is refused, not stored.

        With ``check``, the save is refused when the flow's newest revision is no longer
        ``expected_revision`` (None: the flow must not exist yet): someone else saved it in
        between, and storing this text would silently undo their change.
        """
        report = self.engine.validate(text)
        if report.errors:
            return SaveResult(errors=[str(e) for e in report.errors])
        if check:
            ns, fid = report.namespace or "", report.flow_id or ""
            current = self.latest_revision(ns, fid)
            if current != expected_revision:
                who = f"revision {current} of {ns}.{fid} was saved" if current else f"{ns}.{fid} was deleted"
                if expected_revision is None:
                    who = f"a flow {ns}.{fid} already exists (revision {current})"
                return SaveResult(errors=[f"Not saved: {who} since you opened it (another tab or user). Copy your "
                                          "changes from the YAML tab, reload the page, and apply them again."],
                                  conflict=True)
        flow = self.engine.deploy(text)
        return SaveResult(revision=flow.revision, namespace=flow.namespace, flow_id=flow.id)

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        try:
            self.engine.delete_flow(namespace, flow_id)
        except NotFound:
            return False
        return True

    def flow_inputs(self, namespace: str, flow_id: str) -> list[Input]:
        """The typed input definitions of the latest revision (LookupError when there is none)."""
        return list(self.engine.definition(namespace, flow_id).inputs or [])

    # --- executions -----------------------------------------------------------------------------

    def start(self, namespace: str, flow_id: str, inputs: dict[str, Any], labels: dict[str, str] | None = None) -> str:
        """Start an execution; raises the engine's InputError when an input is refused."""
        return self.engine.start(namespace, flow_id, inputs, labels=labels or None)

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        found = self.engine.summary(execution_id)
        return None if found is None else found.to_dict()

    def logs(self, execution_id: str, after_id: int = 0, task_id: str | None = None,
             min_level: str | None = None) -> list[dict[str, Any]]:
        level = min_level.upper() if min_level else None
        lines = self.engine.logs(execution_id, after_id=after_id, task_id=task_id or None,
                                 min_level=cast("LogLevel | None", level if level in LEVELS else None))
        return [line.to_dict() for line in lines]

    def kill(self, execution_id: str) -> None:
        self.engine.kill(execution_id)

    def resume(self, execution_id: str) -> None:
        self.engine.resume(execution_id)

    def restart(self, execution_id: str) -> None:
        """Re-run a FAILED/KILLED execution from its failed task runs (same execution id)."""
        self.engine.restart(execution_id)

    def replay(self, execution_id: str, task_run_id: str | None = None) -> str:
        """Start a new execution replaying this ended one (from ``task_run_id``); returns the new id."""
        return self.engine.replay(execution_id, task_run_id).id

    def flow_data_of(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The YAML data of the flow revision an execution ran."""
        source = self.flow_source(summary["namespace"], summary["flowId"], summary.get("flowRevision"))
        if source is None:
            return {"id": summary["flowId"], "namespace": summary["namespace"], "tasks": []}
        data, _ = load_yaml(source)
        return data

    def download(self, execution_id: str, uri: str) -> Download:
        """A file of this execution (an output or an input file): NotFound, or Invalid for another's URI."""
        return self.engine.download(execution_id, uri)

    def executions(self, namespace: str | None = None, flow_id: str | None = None, since: datetime | None = None,
                   states: list[str] | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Executions newest first as small dicts (id, namespace, flowId, state, dates, duration)."""
        found = self.engine.search_executions(namespace=namespace or None, flow_id=flow_id or None,
                                              states=[State(s) for s in states or ()], started_after=since, size=limit)
        return [{"id": e.id, "namespace": e.namespace, "flowId": e.flow_id, "state": str(e.state),
                 "startDate": e.start_date, "endDate": e.end_date,
                 "duration": duration_of(e.start_date, e.end_date)} for e in found.results]

    def dashboard(self, namespace: str | None = None, hours: float = 24) -> dict[str, Any]:
        """Figures of the business dashboard over the last ``hours``."""
        now = datetime.now(UTC)
        since = now - timedelta(hours=hours)
        rows = self.executions(namespace=namespace, since=since, limit=5000)
        bucket = timedelta(hours=hours) / 24
        over_time: dict[str, Counter[str]] = defaultdict(Counter)
        for row in rows:
            start = parse_time(row["startDate"])
            if start is None:
                continue
            index = int((start - since) / bucket)
            over_time[(since + index * bucket).isoformat()][row["state"]] += 1
        ended = [r for r in rows if r["state"] in TERMINAL]
        ok = [r for r in ended if r["state"] in ("SUCCESS", "WARNING")]
        per_flow: dict[str, list[float]] = defaultdict(list)
        for r in ended:
            if r["duration"] is not None:
                per_flow[f"{r['namespace']}.{r['flowId']}"].append(r["duration"])
        durations = []
        for name, values in sorted(per_flow.items()):
            values.sort()
            durations.append({"flow": name, "count": len(values), "p50": _pct(values, 50),
                              "p90": _pct(values, 90), "p99": _pct(values, 99)})
        failures = [r for r in rows if r["state"] in ("FAILED", "KILLED")][:20]
        return {
            "since": since, "until": now, "bucket": bucket, "total": len(rows), "ended": len(ended),
            "successRate": (len(ok) / len(ended)) if ended else None,
            "overTime": {k: dict(v) for k, v in sorted(over_time.items())},
            "durations": durations, "failures": failures, "executions": rows,
        }

    # --- triggers -------------------------------------------------------------------------------

    def triggers(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every trigger of every deployed flow, with its kind, enabled state and next run."""
        try:
            found = self.engine.triggers(namespace=namespace or None)
        except Unavailable:  # no scheduler in this process: nothing fires, nothing to show
            return []
        return [{"namespace": t.namespace, "flowId": t.flow_id, "triggerId": t.trigger_id, "type": t.type,
                 "cron": t.cron, "timezone": t.timezone or "UTC", "disabled": t.disabled,
                 "disabledInYaml": t.disabled_in_flow, "next": t.next_execution_date} for t in found]

    def set_trigger_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> None:
        self.engine.set_trigger_disabled(namespace, flow_id, trigger_id, disabled)

    def backfill(self, namespace: str, flow_id: str, trigger_id: str, start: datetime, end: datetime,
                 inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Ask the scheduler to run every tick of [start, end); returns the backfill record.

        Raises ValueError (the engine's Invalid) for a range it refuses or a trigger that is not a schedule.
        """
        if end <= start:
            raise ValueError("backfill end must be after its start")
        try:
            return self.engine.backfill(namespace, flow_id, trigger_id, start.isoformat(), end.isoformat(),
                                        inputs=inputs).to_dict()
        except (NotFound, Conflict, Unavailable) as exc:
            raise ValueError(str(exc)) from None

    def backfills(self) -> list[dict[str, Any]]:
        try:
            return [b.to_dict() for b in self.engine.backfills()]
        except Unavailable:
            return []


def next_runs(cron: str, timezone: str, count: int = 5, after: datetime | None = None) -> list[str]:
    """The next ``count`` run times of a cron in a time zone, as local ISO-8601 (cron helper)."""
    from engine.triggers.ticks import local_iso, next_tick

    cur = after or datetime.now(UTC)
    out = []
    for _ in range(count):
        nxt = next_tick(cron, timezone, cur)
        if nxt is None:
            break
        out.append(local_iso(nxt, timezone))
        cur = nxt
    return out


def _pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else values[-1]


__all__ = ["FlowRow", "SaveResult", "Services", "State", "next_runs"]
