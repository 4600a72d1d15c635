"""Triggers, backfills and webhooks of the in-process Engine (a part of LocalEngine).

They need the scheduler of this process: an engine without one (the CLI, Jupyter)
answers Unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.model.views import ExecutionSummary
from engine.service import BackfillAction, Conflict, Invalid, NotFound, Unavailable, invalid

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.model.views_workspace import BackfillInfo, TriggerInfo
    from engine.runtime.local import LocalRunner
    from engine.triggers.scheduler import Scheduler
    from engine.triggers.webhook import Webhook

_BACKFILL_MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "pause": ("PAUSED", ("RUNNING",)),
    "unpause": ("RUNNING", ("PAUSED",)),
    "cancel": ("CANCELLED", ("RUNNING", "PAUSED")),
}


class TriggerOps:
    """What LocalEngine answers about triggers and backfills, and how it fires a webhook."""

    scheduler: Scheduler | None

    if TYPE_CHECKING:  # provided by LocalEngine
        @property
        def runner(self) -> LocalRunner: ...

        def definition(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow: ...

        def start(self, namespace: str, flow_id: str, inputs: Mapping[str, Any] | None = None, *,
                  labels: Mapping[str, str] | None = None, revision: int | None = None,
                  trigger: dict[str, Any] | None = None) -> str: ...

        def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionSummary: ...

        def summary_of(self, execution_id: str) -> ExecutionSummary: ...

    def _scheduler(self) -> Scheduler:
        if self.scheduler is None:
            raise Unavailable("the scheduler is not running in this server")
        return self.scheduler

    def triggers(self, *, namespace: str | None = None, flow_id: str | None = None,
                 q: str | None = None) -> list[TriggerInfo]:
        from engine.model.views_workspace import TriggerInfo
        out = []
        for item in self._scheduler().describe():
            if namespace and not (item["namespace"] == namespace or item["namespace"].startswith(namespace + ".")):
                continue
            if flow_id and item["flowId"] != flow_id:
                continue
            if q and q.lower() not in item["flowId"].lower() and q.lower() not in item["triggerId"].lower():
                continue
            out.append(TriggerInfo.model_validate(item))
        return out

    def set_trigger_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> TriggerInfo:
        try:
            self._scheduler().set_disabled(namespace, flow_id, trigger_id, disabled)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        for info in self.triggers(namespace=namespace, flow_id=flow_id):
            if info.trigger_id == trigger_id:
                return info
        raise NotFound(f"flow {namespace}.{flow_id} has no trigger '{trigger_id}'")

    def backfill(self, namespace: str, flow_id: str, trigger_id: str, start: str, end: str | None = None, *,
                 inputs: Mapping[str, Any] | None = None, labels: Mapping[str, str] | None = None) -> BackfillInfo:
        from engine.model.views_workspace import BackfillInfo
        from engine.triggers.scheduler import TriggerFailure

        try:
            bf = self._scheduler().create_backfill(namespace, flow_id, trigger_id, start, end,
                                                   dict(inputs) if inputs else None, dict(labels) if labels else None)
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        except TriggerFailure as exc:
            raise invalid("start", str(exc)) from None
        return BackfillInfo.model_validate(bf.to_dict())

    def backfills(self, *, namespace: str | None = None, flow_id: str | None = None,
                  trigger_id: str | None = None) -> list[BackfillInfo]:
        from engine.model.views_workspace import BackfillInfo
        found = self._scheduler().store.backfills(namespace=namespace, flow_id=flow_id, trigger_id=trigger_id)
        return [BackfillInfo.model_validate(b.to_dict()) for b in found]

    def get_backfill(self, backfill_id: str) -> BackfillInfo | None:
        from engine.model.views_workspace import BackfillInfo
        bf = self._scheduler().store.get_backfill(backfill_id)
        return None if bf is None else BackfillInfo.model_validate(bf.to_dict())

    def change_backfill(self, backfill_id: str, action: BackfillAction) -> BackfillInfo:
        from engine.model.views_workspace import BackfillInfo
        sched = self._scheduler()
        if action not in _BACKFILL_MOVES:
            raise invalid("action", f"unknown backfill action '{action}': use pause, unpause or cancel")
        bf = sched.store.get_backfill(backfill_id)
        if bf is None:
            raise NotFound(f"backfill {backfill_id} does not exist")
        target, allowed = _BACKFILL_MOVES[action]
        if bf.state not in allowed:
            raise Conflict(f"backfill {backfill_id} is {bf.state}; cannot {action} it")
        updated = sched.store.set_backfill_state(backfill_id, target, only_from=allowed) or bf
        sched.wake()
        return BackfillInfo.model_validate(updated.to_dict())

    def fire_webhook(self, namespace: str, flow_id: str, key: str, variables: dict[str, Any],
                     wait_timeout: float) -> tuple[Webhook, ExecutionSummary | None] | None:
        """Start the flow whose enabled Webhook trigger has ``key``; None when none has.

        ``variables`` are the request's (``body``, ``headers``, ``parameters``); the
        trigger's ``id`` and ``type`` are added. Answers the trigger and the execution's
        summary, or no summary when the trigger's conditions do not hold for this call
        (Kestra answers 204 then). Raises InputError, or Invalid when the trigger's inputs
        do not render or a condition cannot apply.
        """
        from engine.expressions import render_string
        from engine.triggers.scheduler import render
        from engine.triggers.webhook import match_webhook

        try:
            flow = self.definition(namespace, flow_id)
        except NotFound:
            return None
        disabled: set[str] = set()
        if self.scheduler is not None:
            states = self.scheduler.store.all()
            disabled = {t for (ns, f, t), st in states.items() if ns == namespace and f == flow_id and st.disabled}
        flow_vars = {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision}
        secret = self.runner.secrets.function(namespace)
        trig = match_webhook(flow.triggers or [], key, disabled,
                             lambda text: render_string(text, {"flow": flow_vars}, functions={"secret": secret}))
        if trig is None or flow.disabled:
            return None
        variables = {"id": trig.id, "type": "webhook", **variables}
        if trig.conditions and not _conditions_hold(trig, flow, variables):
            return trig, None
        try:
            inputs = render(dict(trig.inputs or {}), {"trigger": variables, "flow": {"id": flow.id, "namespace": flow.namespace}})
        except Exception as exc:  # noqa: BLE001 - a bad expression in the trigger's inputs
            raise Invalid(f"trigger {trig.id}: its inputs could not be rendered: {exc}") from None
        ex_id = self.start(namespace, flow_id, inputs, trigger=variables)
        if not trig.wait:
            return trig, self.summary_of(ex_id)
        summary = self.wait(ex_id, wait_timeout)
        return trig, (summary if trig.return_outputs else summary.model_copy(update={"outputs": {}}))


def _conditions_hold(trig: Webhook, flow: Flow, variables: dict[str, Any]) -> bool:
    """The trigger's conditions for this call (its variables are ``{{ trigger.* }}``); Invalid when one cannot apply."""
    from datetime import UTC, datetime

    from engine.model.condition import ConditionContext
    from engine.triggers.conditions import ConditionError, test_all

    ctx = ConditionContext(where="Webhook trigger", date=datetime.now(UTC), trigger=variables,
                           flow={"namespace": flow.namespace, "id": flow.id})
    try:
        return test_all(trig.conditions, ctx)
    except ConditionError as exc:
        raise Invalid(f"trigger {trig.id}: {exc}") from None
