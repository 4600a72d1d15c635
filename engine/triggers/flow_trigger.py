"""Flow triggers: start a flow when an execution of another flow ends.

Matching follows Kestra: the ended execution's state must be in the trigger's
``states`` (default: any end state), every entry of ``conditions``
(ExecutionStatus, ExecutionFlow, ExecutionNamespace, ExecutionLabels, Not, Or,
Expression, ExecutionOutputs, MultipleCondition, ...) must hold (a
MultipleCondition's progress is kept in the trigger's stored state), and ``preconditions`` may list upstream flows (all of them must
have ended in a listed state since the last firing before it fires) and
``where`` filters. A flow never triggers itself (that would loop forever).

The firing is recorded per upstream execution before the downstream one
starts, so it happens at most once even if two schedulers see the same end.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.model.execution import summary_context
from engine.model.state import TERMINAL_NAMES
from engine.store.triggers import TriggerState
from engine.triggers import conditions as cond
from engine.triggers.catalog import DeployedTrigger
from engine.triggers.time_window import keep_in_window

if TYPE_CHECKING:
    from engine.triggers.scheduler import Scheduler

log = logging.getLogger("lanner.scheduler")



def _filter_ok(flt: dict[str, Any], summary: dict[str, Any]) -> bool:
    field = str(flt.get("field", "")).upper()
    actual = {"NAMESPACE": summary.get("namespace"), "FLOW_ID": summary.get("flowId"), "STATE": summary.get("state")}.get(field)
    op = str(flt.get("type", "EQUAL_TO")).upper()
    value = flt.get("value")
    values = [str(v) for v in (flt.get("values") or ([] if value is None else [value]))]
    text = "" if actual is None else str(actual)
    if op in ("EQUAL_TO", "EQUALS"):
        return text in values[:1]
    if op in ("NOT_EQUAL_TO", "NOT_EQUALS"):
        return text not in values[:1]
    if op == "IN":
        return text in values
    if op == "NOT_IN":
        return text not in values
    if op in ("STARTS_WITH", "PREFIX"):
        return any(text.startswith(v) for v in values)
    if op in ("ENDS_WITH", "SUFFIX"):
        return any(text.endswith(v) for v in values)
    if op == "CONTAINS":
        return any(v in text for v in values)
    return False


def _ended_at(summary: dict[str, Any]) -> datetime:
    """When the upstream execution ended (now when it does not say)."""
    try:
        return datetime.fromisoformat(summary["endDate"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


def _upstream_index(flows: list[dict[str, Any]], summary: dict[str, Any]) -> int | None:
    for i, entry in enumerate(flows):
        if entry.get("namespace") not in (None, summary.get("namespace")):
            continue
        if entry.get("flowId") not in (None, summary.get("flowId")):
            continue
        states = entry.get("states")
        if isinstance(states, str):
            states = [states]
        if states and summary.get("state") not in [str(s).upper() for s in states]:
            continue
        return i
    return None


class FlowTriggers:
    """Matches ended executions against the Flow triggers of every deployed flow."""

    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler

    def on_end(self, summary: dict[str, Any], states: dict[tuple[str, str, str], TriggerState]) -> None:
        for dt in self.scheduler.catalog.triggers("flow"):
            if not dt.active:
                continue
            st = states.setdefault(dt.key, TriggerState(*dt.key))  # shared by the ends drained in this pass
            if st.disabled:
                continue
            try:
                if self._matches(dt, summary, st):
                    self._fire(dt, summary)
            except cond.ConditionError as exc:
                self.scheduler._error(dt, str(exc))

    def _matches(self, dt: DeployedTrigger, summary: dict[str, Any], st: TriggerState) -> bool:
        trig = dt.trigger
        if (summary.get("namespace"), summary.get("flowId")) == (dt.namespace, dt.flow_id):
            return False
        wanted = [s.upper() for s in (trig.states or TERMINAL_NAMES)]
        if summary.get("state") not in wanted:
            return False
        before = dict(st.progress.get("conditions") or {})
        memory = {k: dict(v) if isinstance(v, dict) else v for k, v in before.items()}
        flow = {"namespace": dt.namespace, "id": dt.flow_id}
        ok = cond.execution_ok(trig.conditions, summary, flow=flow, state=memory)
        if memory != before:  # a MultipleCondition remembered this execution
            st.progress = {**st.progress, "conditions": memory}
            self.scheduler.store.save(st)
        if not ok:
            return False
        pre = trig.preconditions
        if pre is None:
            return True
        for group in pre.where or []:
            filters = group.get("filters") if isinstance(group, dict) else None
            if isinstance(filters, list) and not all(_filter_ok(f, summary) for f in filters if isinstance(f, dict)):
                return False
        if not pre.flows:
            return True
        idx = _upstream_index(pre.flows, summary)
        if idx is None:
            return False
        if len(pre.flows) == 1 and pre.time_window is None:
            return True
        # Several upstream flows: fire once each has ended (in a listed state) within the time window.
        now = _ended_at(summary)
        seen, in_window = keep_in_window(dict(st.progress.get("seen", {})), pre.time_window, now)
        if not in_window:
            return False  # an end outside a daily window counts for nothing
        seen[str(idx)] = {"id": summary["id"], "date": now.isoformat()}
        ready = len(seen) == len(pre.flows)
        # Other keys (MultipleCondition's memory under "conditions") are kept; after a firing the ends seen
        # are forgotten only with resetOnSuccess (Kestra's default), else they count for the next one too.
        st.progress = {**{k: v for k, v in st.progress.items() if k != "seen"}, **({} if ready and pre.reset_on_success else {"seen": seen})}
        self.scheduler.store.save(st)
        return ready

    def _fire(self, dt: DeployedTrigger, summary: dict[str, Any]) -> None:
        if not self.scheduler.store.claim(*dt.key, summary["id"], source="flow"):
            return
        variables = {
            "id": dt.trigger_id,
            "type": dt.kind,
            "executionId": summary["id"],
            "namespace": summary.get("namespace"),
            "flowId": summary.get("flowId"),
            "flowRevision": summary.get("flowRevision"),
            "state": summary.get("state"),
            "outputs": summary.get("outputs") or {},
            "labels": summary.get("labels") or {},
        }
        ex_id = self.scheduler.start_flow(dt, dict(dt.trigger.inputs or {}), variables, context=summary_context(summary))
        if ex_id:
            self.scheduler.store.set_execution(*dt.key, summary["id"], ex_id, source="flow")
            log.info("%s.%s started by trigger %s after execution %s", dt.namespace, dt.flow_id, dt.trigger_id, summary["id"])
