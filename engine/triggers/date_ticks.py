"""ScheduleOnDates triggers: fire each listed date-time once, when it comes.

The trigger's stored ``next_date`` is the first date not handled yet. A date
is recorded in the store (unique per trigger and date) before its execution
starts, so it fires once also after a restart or with two schedulers. Like a
Schedule's missed ticks, dates that passed before the trigger was first seen
(or while it was disabled) are skipped, never caught up.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engine.model.ids import new_id
from engine.store.triggers import TriggerState
from engine.triggers.catalog import DeployedTrigger

if TYPE_CHECKING:
    from engine.triggers.scheduler import Scheduler

log = logging.getLogger("lanner.scheduler")
KIND = "schedule_on_dates"


def _iso(moment: datetime) -> str:
    from datetime import UTC

    return moment.astimezone(UTC).isoformat()


class DateTriggers:
    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler

    def poll(self, now: datetime, states: dict[tuple[str, str, str], TriggerState]) -> None:
        for dt in self.scheduler.catalog.triggers(KIND):
            st = states.get(dt.key) or TriggerState(*dt.key)
            if not dt.active or st.disabled:
                if st.signature is not None:
                    st.next_date = st.signature = None  # re-enabling starts from then: no catch-up
                    self.scheduler.store.save(st)
                continue
            try:
                dates = dt.trigger.moments()
            except ValueError as exc:
                self.scheduler._error(dt, str(exc))
                continue
            self._fire_due(dt, st, dates, now)

    def _fire_due(self, dt: DeployedTrigger, st: TriggerState, dates: list[datetime], now: datetime) -> None:
        signature = "|".join(_iso(d) for d in dates)
        if st.signature != signature:  # first seen, changed, or enabled again: from now on
            upcoming = [d for d in dates if d > now - timedelta(seconds=self.scheduler.interval * 2)]
            st.next_date = _iso(upcoming[0]) if upcoming else None
            st.signature = signature
            self.scheduler.store.save(st)
        if st.next_date is None:
            return  # every date has passed
        cursor: datetime | None = datetime.fromisoformat(st.next_date)
        fired = False
        while cursor is not None and cursor <= now:
            self._fire(dt, cursor, dates)
            later = [d for d in dates if d > cursor]
            cursor = later[0] if later else None
            fired = True
        if fired:
            st.next_date = _iso(cursor) if cursor else None
            self.scheduler.store.save(st)

    def _fire(self, dt: DeployedTrigger, date: datetime, dates: list[datetime]) -> None:
        execution_id = new_id()
        if not self.scheduler.store.claim(*dt.key, _iso(date), source=KIND, execution_id=execution_id):
            return
        zone = ZoneInfo(dt.trigger.timezone)
        after = [d for d in dates if d > date]
        before = [d for d in dates if d < date]
        variables = {
            "id": dt.trigger_id,
            "type": KIND,
            "date": date.astimezone(zone).isoformat(),
            "next": after[0].astimezone(zone).isoformat() if after else None,
            "previous": before[-1].astimezone(zone).isoformat() if before else None,
        }
        started = self.scheduler.start_flow(dt, dict(dt.trigger.inputs or {}), variables, execution_id=execution_id)
        if started != execution_id:
            self.scheduler.store.set_execution(*dt.key, _iso(date), started, source=KIND)
        log.info("%s.%s started by trigger %s for %s", dt.namespace, dt.flow_id, dt.trigger_id, variables["date"])
