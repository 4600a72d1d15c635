"""What the Executions, Logs and per-flow pages ask of the engine: searches a page at a time, bulk actions,
an execution's neighbours, a task run's change of state, and a flow's dependencies.

A part of :class:`builder.services.Services` (its ``engine`` is the Engine). Searches
hand the filters and the page to the engine, which cuts the page in the store: a page
never loads every execution or log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from engine.model import registry
from engine.model.state import State
from engine.model.yaml_loader import YamlError, load_any_yaml
from engine.service import EngineError, LogLevel

if TYPE_CHECKING:
    from engine.service import Engine

SUBFLOW_TYPES = ("subflow", "for_each_item")
BulkAction = Literal["restart", "kill"]


@dataclass(frozen=True)
class ExecutionFilter:
    """The Executions page's filters (each one optional)."""

    namespace: str = ""
    flow_id: str = ""
    states: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""
    oldest_first: bool = False


@dataclass(frozen=True)
class LogFilter:
    """The Logs page's filters: INFO and above unless told otherwise."""

    namespace: str = ""
    flow_id: str = ""
    min_level: LogLevel = "INFO"
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""


@dataclass
class Dependencies:
    """Flows linked to one flow, as (namespace, flow id) pairs, each list sorted."""

    calls: list[tuple[str, str]] = field(default_factory=list)           # subflows it starts
    called_by: list[tuple[str, str]] = field(default_factory=list)       # flows that start it as a subflow
    triggers: list[tuple[str, str]] = field(default_factory=list)        # flows whose Flow trigger listens to it
    triggered_by: list[tuple[str, str]] = field(default_factory=list)    # flows its own Flow triggers listen to


def parse_labels(text: str) -> dict[str, str]:
    """``key:value`` pairs separated by commas or spaces (the Executions page's label filter).

    Raises ValueError naming the pair without a colon.
    """
    out: dict[str, str] = {}
    for item in text.replace(",", " ").split():
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise ValueError(f"label filter '{item}' needs the form key:value")
        out[key] = value
    return out


class HistoryServices:
    """Execution and log searches, bulk actions, neighbours, change of state, dependencies."""

    engine: Engine

    def search_executions(self, flt: ExecutionFilter, page: int = 1, size: int = 25) -> tuple[list[dict[str, Any]], int]:
        """One page of executions (summaries without task runs, as JSON dicts) and how many match."""
        found = self.engine.search_executions(
            namespace=flt.namespace or None, flow_id=flt.flow_id or None, states=[State(s) for s in flt.states],
            labels=flt.labels or None, started_after=flt.since, started_before=flt.until, q=flt.q or None,
            sort="asc" if flt.oldest_first else "desc", page=page, size=size)
        return [e.to_dict(task_runs=False) for e in found.results], found.total

    def bulk(self, action: BulkAction, execution_ids: list[str]) -> tuple[list[str], dict[str, str]]:
        """Restart or kill each execution: (the ids it was done to, {id: why it was refused})."""
        done: list[str] = []
        refused: dict[str, str] = {}
        for ex_id in execution_ids:
            try:
                getattr(self.engine, action)(ex_id)
            except EngineError as exc:
                refused[ex_id] = exc.message
            else:
                done.append(ex_id)
        return done, refused

    def search_logs(self, flt: LogFilter, page: int = 1, size: int = 50) -> tuple[list[dict[str, Any]], int]:
        """One page of log lines across executions, newest first, and how many match."""
        found = self.engine.search_logs(namespace=flt.namespace or None, flow_id=flt.flow_id or None,
                                        min_level=flt.min_level, after=flt.since, before=flt.until, q=flt.q or None,
                                        page=page, size=size)
        return [line.to_dict() for line in found.results], found.total

    def neighbours(self, summary: dict[str, Any]) -> tuple[str | None, str | None]:
        """(previous, next) execution of the same flow by start date (None at either end)."""
        start = summary.get("startDate")
        if not start:
            return None, None
        at = datetime.fromisoformat(start)
        ns, fid = summary["namespace"], summary["flowId"]
        before = self.engine.search_executions(namespace=ns, flow_id=fid, started_before=at, size=1).results
        after = self.engine.search_executions(namespace=ns, flow_id=fid, started_after=at + timedelta(microseconds=1),
                                              sort="asc", size=1).results
        return (before[0].id if before else None), (after[0].id if after else None)

    def change_state(self, execution_id: str, task_run_id: str, state: str) -> None:
        """Set an ended task run's state (SUCCESS, WARNING, FAILED); the execution goes on from there."""
        self.engine.change_task_run_state(execution_id, task_run_id, State(state))

    def add_labels(self, execution_id: str, labels: dict[str, str]) -> dict[str, str]:
        """Add or change labels of an ended execution; returns every label it has now."""
        return dict(self.engine.set_labels(execution_id, labels).labels)

    def dependencies(self, namespace: str, flow_id: str) -> Dependencies:
        """The flows this one calls as subflows or listens to, and those that call it or listen to it."""
        me = (namespace, flow_id)
        deps = Dependencies()
        for info in self.engine.search_flows():
            source = info.source
            if source is None:  # search answers over HTTP carry no source
                full = self.engine.flow(info.namespace, info.id)
                source = full.source if full else None
            try:
                data = load_any_yaml(source or "")
            except YamlError:
                continue
            if not isinstance(data, dict):
                continue
            other = (info.namespace, info.id)
            calls, listens = _subflows(data), _listened(data)
            if other == me:
                deps.calls, deps.triggered_by = sorted(calls), sorted(listens)
            else:
                if me in calls:
                    deps.called_by.append(other)
                if me in listens:
                    deps.triggers.append(other)
        deps.called_by.sort()
        deps.triggers.sort()
        return deps


def _walk(value: Any) -> Any:
    """Every dict inside a YAML value, depth first."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def _pair(d: dict[str, Any]) -> tuple[str, str] | None:
    ns, fid = d.get("namespace"), d.get("flowId")
    return (ns, fid) if isinstance(ns, str) and isinstance(fid, str) and "{{" not in ns + fid else None


def _subflows(data: dict[str, Any]) -> set[tuple[str, str]]:
    """(namespace, flowId) of every Subflow / ForEachItem task of a flow (expressions left out)."""
    out: set[tuple[str, str]] = set()
    for key in ("tasks", "errors", "finally", "afterExecution"):
        for d in _walk(data.get(key)):
            kind = d.get("type")
            if isinstance(kind, str) and registry.canonical_task_name(kind) in SUBFLOW_TYPES and (p := _pair(d)):
                out.add(p)
    return out


def _listened(data: dict[str, Any]) -> set[tuple[str, str]]:
    """(namespace, flowId) named by the conditions and preconditions of a flow's Flow triggers."""
    out: set[tuple[str, str]] = set()
    for trigger in data.get("triggers") or []:
        kind = trigger.get("type") if isinstance(trigger, dict) else None
        if not isinstance(kind, str) or registry.canonical_trigger_name(kind) != "flow":
            continue
        for key in ("conditions", "preconditions"):
            out.update(p for d in _walk(trigger.get(key)) if (p := _pair(d)))
    return out
