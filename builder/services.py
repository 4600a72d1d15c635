"""What the builder pages call: one object over the in-process runner and its store.

Pages never reach the engine directly and never go over HTTP to their own
server: they call :class:`Services`, which wraps the ``LocalRunner`` passed to
``builder.app.mount``. Keeping every engine call here means the pages are plain
layout code and the contract with the engine is visible in one file. Optional
actions (restart, replay, backfill) are reported by
:meth:`Services.capabilities` so the pages show the ones an engine lacks
disabled instead of faking them.
"""

from __future__ import annotations

import difflib
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.model.validation import validate_text
from engine.model.yaml_loader import YamlError, load_yaml
from engine.runtime.state import State

TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"}


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


def _labels(data: dict[str, Any]) -> dict[str, str]:
    raw = data.get("labels")
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(i.get("key")): str(i.get("value")) for i in raw if isinstance(i, dict)}
    return {}


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


class Services:
    """The builder's door to the engine (one per server, shared by every browser session)."""

    def __init__(self, runner: Any):
        self.runner = runner
        self.store = runner.store

    # --- capabilities ---------------------------------------------------------------------------

    def capabilities(self) -> dict[str, bool]:
        """Which optional engine actions exist (pages disable the others with a tooltip)."""
        r = self.runner
        return {
            "kill": hasattr(r, "kill"),
            "resume": hasattr(r, "resume"),
            "restart": callable(getattr(r, "restart", None)),
            "replay": callable(getattr(r, "replay", None)) or (callable(getattr(r, "adopt", None))
                                                               and _replay_builder() is not None),
            "backfill": self._trigger_store() is not None,
        }

    # --- flows ----------------------------------------------------------------------------------

    def list_flows(self, search: str = "", namespace: str | None = None) -> list[FlowRow]:
        """Latest revision of each flow, filtered by a free-text search over id, namespace, labels."""
        words = search.lower().split()
        rows = []
        last = self.last_states()
        for rec in self.store.list_flows(namespace or None):
            try:
                data, _ = load_yaml(rec.source)
            except YamlError:
                data = {}
            labels = _labels(data)
            text = " ".join([rec.namespace, rec.id, str(data.get("description") or ""),
                             *(f"{k}:{v}" for k, v in labels.items())]).lower()
            if not all(w in text for w in words):
                continue
            state, ex_id = last.get((rec.namespace, rec.id), (None, None))
            rows.append(FlowRow(rec.namespace, rec.id, rec.revision, str(data.get("description") or ""),
                                labels, state, ex_id, rec.updated))
        return rows

    def namespaces(self) -> list[str]:
        """Every namespace and each of its parents ("a", "a.b", "a.b.c"), sorted."""
        out: set[str] = set()
        for rec in self.store.list_flows(None):
            parts = rec.namespace.split(".")
            out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        return sorted(out)

    def last_states(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(namespace, flow id) -> (state, execution id) of its most recent execution."""
        executions, _ = self.store.search_executions(limit=2000)
        out: dict[tuple[str, str], tuple[str, str]] = {}
        for ex in executions:  # newest first
            out.setdefault((ex.namespace, ex.flow_id), (str(ex.state), ex.id))
        return out

    def flow_source(self, namespace: str, flow_id: str, revision: int | None = None) -> str | None:
        rec = self.store.get_flow(namespace, flow_id, revision)
        return None if rec is None else rec.source

    def revisions(self, namespace: str, flow_id: str) -> list[dict[str, Any]]:
        return [{"revision": r.revision, "updated": r.updated, "deleted": r.deleted}
                for r in self.store.flow_revisions(namespace, flow_id)]

    def diff(self, namespace: str, flow_id: str, old: int, new: int) -> str:
        """Unified diff between two revisions of a flow's YAML."""
        a = self.flow_source(namespace, flow_id, old) or ""
        b = self.flow_source(namespace, flow_id, new) or ""
        return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                            fromfile=f"revision {old}", tofile=f"revision {new}"))

    def latest_revision(self, namespace: str, flow_id: str) -> int | None:
        """The newest stored revision of a flow (None when it does not exist or was deleted)."""
        rec = self.store.get_flow(namespace, flow_id, None)
        return None if rec is None else rec.revision

    def save_flow(self, text: str, expected_revision: int | None = None, check: bool = False) -> SaveResult:
        """Validate with the CLI's validator and store a revision; invalid YAML is refused, not stored.

        With ``check``, the save is refused when the flow's newest revision is no longer
        ``expected_revision`` (None: the flow must not exist yet): someone else saved it in
        between, and storing this text would silently undo their change.
        """
        report = validate_text(text)
        if report.errors:
            return SaveResult(errors=[str(e) for e in report.errors])
        if check and report.data is not None:
            ns, fid = str(report.data.get("namespace", "")), str(report.data.get("id", ""))
            current = self.latest_revision(ns, fid)
            if current != expected_revision:
                who = f"revision {current} of {ns}.{fid} was saved" if current else f"{ns}.{fid} was deleted"
                if expected_revision is None:
                    who = f"a flow {ns}.{fid} already exists (revision {current})"
                return SaveResult(errors=[f"Not saved: {who} since you opened it (another tab or user). Copy your "
                                          "changes from the YAML tab, reload the page, and apply them again."],
                                  conflict=True)
        flow = self.runner.deploy(text)
        return SaveResult(revision=flow.revision, namespace=flow.namespace, flow_id=flow.id)

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        return self.store.delete_flow(namespace, flow_id)

    def flow_inputs(self, namespace: str, flow_id: str) -> list[Any]:
        """The typed input definitions of the latest revision."""
        return list(self.runner.get_flow(namespace, flow_id).inputs or [])

    # --- executions -----------------------------------------------------------------------------

    def start(self, namespace: str, flow_id: str, inputs: dict[str, Any], labels: dict[str, str] | None = None) -> str:
        """Start an execution; raises the engine's InputErrors when an input is refused."""
        return self.runner.start_execution(namespace, flow_id, inputs, labels=labels or None)

    def summary(self, execution_id: str) -> dict[str, Any] | None:
        return self.runner.summary(execution_id)

    def logs(self, execution_id: str, after_id: int = 0, task_id: str | None = None,
             min_level: str | None = None) -> list[dict[str, Any]]:
        return self.store.get_logs(execution_id, after_id=after_id, task_id=task_id or None,
                                   min_level=min_level or None)

    def _settle(self) -> None:
        """Wait until the runner has applied what was just asked (the page then polls a fresh state)."""
        sync = getattr(self.runner, "sync", None)
        if callable(sync):
            sync()

    def kill(self, execution_id: str) -> None:
        self.runner.kill(execution_id)
        self._settle()

    def resume(self, execution_id: str) -> None:
        self.runner.resume(execution_id)
        self._settle()

    def restart(self, execution_id: str) -> None:
        """Re-run a FAILED/KILLED execution from its failed task runs (same execution id)."""
        summary = self.summary(execution_id)
        if summary is None:
            raise LookupError(f"execution {execution_id} does not exist")
        if summary["state"] not in ("FAILED", "KILLED"):
            raise ValueError(f"execution {execution_id} is {summary['state']}; only FAILED or KILLED executions "
                             "can be restarted")
        self.runner.restart(execution_id)
        self._settle()

    def replay(self, execution_id: str, task_run_id: str | None = None) -> str:
        """Start a new execution replaying this ended one (from ``task_run_id``); returns the new id.

        Uses the runner's ``replay`` when it has one, else the same steps as the
        REST API's replay endpoint (``engine.runtime.restart.build_replay``,
        store the copy, let the runner adopt it).
        """
        own = getattr(self.runner, "replay", None)
        if callable(own):
            return str(own(execution_id))
        build = _replay_builder()
        if build is None:
            raise RuntimeError("replay is not available in this engine")
        loaded = self.store.load_execution(execution_id)
        if loaded is None:
            raise LookupError(f"execution {execution_id} does not exist")
        new_ex, copies = build(*loaded, task_run_id)
        self.store.write_batch(new_executions=[new_ex], new_runs=copies)
        self.runner.adopt(new_ex.id)
        self._settle()
        return str(new_ex.id)

    def flow_data_of(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The YAML data of the flow revision an execution ran."""
        source = self.flow_source(summary["namespace"], summary["flowId"], summary.get("flowRevision"))
        if source is None:
            return {"id": summary["flowId"], "namespace": summary["namespace"], "tasks": []}
        data, _ = load_yaml(source)
        return data

    def read_file(self, namespace: str, uri: str) -> bytes:
        """Bytes of an internal-storage file (an output or an input file)."""
        storage = getattr(self.runner, "storage", None)
        if storage is None:
            raise FileNotFoundError("internal storage is not configured")
        return storage.read_bytes(uri, namespace=namespace)

    def executions(self, namespace: str | None = None, flow_id: str | None = None, since: datetime | None = None,
                   states: list[str] | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Executions newest first as small dicts (id, namespace, flowId, state, dates, duration)."""
        found, _ = self.store.search_executions(
            namespace=namespace or None, flow_id=flow_id or None, states=states or None,
            start_after=since.isoformat() if since else None, limit=limit)
        return [{"id": e.id, "namespace": e.namespace, "flowId": e.flow_id, "state": str(e.state),
                 "startDate": e.start_date, "endDate": e.end_date,
                 "duration": duration_of(e.start_date, e.end_date)} for e in found]

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

    def _trigger_store(self) -> Any:
        try:
            from engine.store.triggers import TriggerStore
        except ImportError:
            return None
        if not hasattr(self, "_tstore"):
            self._tstore = TriggerStore(self.store)
        return self._tstore

    def triggers(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every trigger of every deployed flow, with its kind, enabled state and next run."""
        tstore = self._trigger_store()
        out = []
        for rec in self.store.list_flows(namespace or None):
            try:
                data, _ = load_yaml(rec.source)
            except YamlError:
                continue
            for trig in data.get("triggers") or []:
                if not isinstance(trig, dict) or "id" not in trig:
                    continue
                state = tstore.get(rec.namespace, rec.id, trig["id"]) if tstore else None
                disabled = bool(trig.get("disabled")) or bool(state and state.disabled)
                cron, tz = trig.get("cron"), str(trig.get("timezone") or "UTC")
                nxt = None
                if cron and not disabled:
                    runs = next_runs(str(cron), tz, 1)
                    nxt = runs[0] if runs else None
                out.append({"namespace": rec.namespace, "flowId": rec.id, "triggerId": str(trig["id"]),
                            "type": str(trig.get("type", "")), "cron": cron, "timezone": tz,
                            "disabled": disabled, "disabledInYaml": bool(trig.get("disabled")), "next": nxt})
        return out

    def set_trigger_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> None:
        tstore = self._trigger_store()
        if tstore is None:
            raise RuntimeError("trigger state is not available in this engine")
        tstore.set_disabled(namespace, flow_id, trigger_id, disabled)

    def backfill(self, namespace: str, flow_id: str, trigger_id: str, start: datetime, end: datetime,
                 inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Ask the scheduler to run every tick of [start, end); returns the backfill record."""
        from engine.triggers.ticks import ticks_between

        if end <= start:
            raise ValueError("backfill end must be after its start")
        trig = next((t for t in self.triggers(namespace) if (t["namespace"], t["flowId"], t["triggerId"])
                     == (namespace, flow_id, trigger_id)), None)
        if trig is None or not trig["cron"]:
            raise ValueError(f"trigger {trigger_id} of {namespace}.{flow_id} is not a schedule")
        total = sum(1 for _ in ticks_between(trig["cron"], trig["timezone"], start, end, limit=10_000))
        bf = self._trigger_store().create_backfill(namespace, flow_id, trigger_id, start.isoformat(),
                                                   end.isoformat(), total, inputs, None)
        return bf.to_dict()

    def backfills(self) -> list[dict[str, Any]]:
        tstore = self._trigger_store()
        return [b.to_dict() for b in tstore.backfills()] if tstore else []


def _replay_builder() -> Any:
    """``engine.runtime.restart.build_replay`` when the engine has it (None otherwise)."""
    try:
        from engine.runtime.restart import build_replay
    except ImportError:
        return None
    return build_replay


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
