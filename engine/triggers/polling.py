"""Polling triggers: the evaluator of every trigger type that derives from ``PollingTrigger`` (plugins').

Every ``interval`` the scheduler calls the trigger's ``poll(ctx)``. Each event
it returns goes through the trigger's ``conditions``, is recorded in the store
under its key *before* its execution starts (so an event fires once, also after
a crash or with two schedulers, like file triggers) and starts one execution
with the event's variables as ``{{ trigger.x }}``. A poll that raises is
recorded as the trigger's last error and tried again at the next interval.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.model.condition import ConditionContext, ConditionError
from engine.model.ids import new_id
from engine.model.trigger import PollingTrigger, TriggerContext, TriggerEvent
from engine.store.triggers import TriggerState
from engine.triggers import conditions as cond
from engine.triggers.catalog import DeployedTrigger

if TYPE_CHECKING:
    from engine.triggers.scheduler import Scheduler

log = logging.getLogger("lanner.scheduler")

#: Events started from one poll at most; the rest wait for the next poll (they are found again).
MAX_EVENTS_PER_POLL = 100
_SOURCE = "poll"


class PollingTriggers:
    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler
        self._last_poll: dict[tuple[str, str, str], float] = {}

    def poll(self, states: dict[tuple[str, str, str], TriggerState]) -> None:
        now = time.monotonic()
        for dt in self.scheduler.catalog.triggers():
            if not isinstance(dt.trigger, PollingTrigger):
                continue
            st = states.get(dt.key)
            if not dt.active or (st is not None and st.disabled):
                continue
            if now - self._last_poll.get(dt.key, float("-inf")) < dt.trigger.interval_seconds():
                continue
            self._last_poll[dt.key] = now
            self._evaluate(dt, st or TriggerState(*dt.key))

    def _evaluate(self, dt: DeployedTrigger, st: TriggerState) -> None:
        trig: PollingTrigger = dt.trigger
        before = dict(st.progress or {})
        ctx = TriggerContext(
            namespace=dt.namespace,
            flow_id=dt.flow_id,
            trigger_id=dt.trigger_id,
            now=self.scheduler.clock(),
            logger=logging.getLogger(f"lanner.trigger.{dt.kind}"),
            state=dict(before),
            storage=self.scheduler.runner.storage,
            renderer=_renderer(self.scheduler.runner, dt),
        )
        try:
            events = _as_list(trig.poll(ctx))
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is the trigger's error, never the scheduler's
            self.scheduler._error(dt, f"poll failed: {type(exc).__name__}: {exc}")
            return
        if ctx.state != before:
            fresh = self.scheduler.store.get(*dt.key) or st
            fresh.progress = ctx.state
            self.scheduler.store.save(fresh)
        for event in events[:MAX_EVENTS_PER_POLL]:
            self._fire(dt, event, ctx.now)

    def _fire(self, dt: DeployedTrigger, event: TriggerEvent, now: datetime) -> None:
        variables = {"id": dt.trigger_id, "type": dt.kind, "date": now.isoformat(), **dict(event.variables)}
        context = ConditionContext(
            where="trigger", date=now, trigger=variables, flow={"namespace": dt.namespace, "id": dt.flow_id}
        )
        try:
            if not cond.test_all(dt.trigger.conditions, context):
                return
        except ConditionError as exc:
            self.scheduler._error(dt, str(exc))
            return
        key = _key(event.key)
        store = self.scheduler.store
        ex_id = new_id()
        if not store.claim(*dt.key, key, source=_SOURCE, execution_id=ex_id):
            return
        inputs = {**(dt.trigger.inputs or {}), **dict(event.inputs)}
        started = self.scheduler.start_flow(dt, inputs, variables, execution_id=ex_id)
        if started != ex_id:
            store.set_execution(*dt.key, key, started, source=_SOURCE)


def _renderer(runner: object, dt: DeployedTrigger) -> Any:
    """Renders a trigger's properties with the flow's namespace functions (secret(), kv()...)."""
    make = getattr(runner, "renderer_for", None)
    if make is None:
        return None
    render = make(dt.namespace)
    context = {"flow": {"namespace": dt.namespace, "id": dt.flow_id}, "trigger": {"id": dt.trigger_id, "type": dt.kind}}
    return lambda value: render(value, context)


def _as_list(found: TriggerEvent | Iterable[TriggerEvent] | None) -> list[TriggerEvent]:
    if found is None:
        return []
    events = [found] if isinstance(found, TriggerEvent) else list(found)
    for event in events:
        if not isinstance(event, TriggerEvent):
            raise TypeError(f"poll() must return TriggerEvent objects, not {type(event).__name__}")
    return events


def _key(key: str) -> str:
    """The firing key stored for an event (long keys are hashed to fit the column)."""
    text = str(key)
    return f"poll:{text}" if len(text) <= 200 else "poll:sha256:" + hashlib.sha256(text.encode()).hexdigest()
