"""The scheduler: evaluates the deployed flows' triggers and starts executions.

One thread wakes every second (and at once when an execution ends) and:

* fires due **Schedule** ticks (cron in a time zone, see :mod:`engine.triggers.ticks`),
  honouring ``lateMaximumDelay``, day conditions and ``stopAfter``, and the dates of
  **ScheduleOnDates** triggers (:mod:`engine.triggers.date_ticks`);
* runs pending **backfills** a few ticks per second (pause and cancel take effect
  between ticks; progress is in the store);
* polls **File** trigger directories and the triggers plugins add (:mod:`engine.triggers.polling`);
* matches ended executions against **Flow** triggers.

Every firing is first recorded in the store (a row unique per trigger, source
and date, in its own transaction); only the scheduler that inserted the row
starts the execution. So a crash, a restart or a second scheduler on the same
database never fires a tick twice.

Like Kestra, ticks missed while the server was down are *not* run at start:
the next tick is computed from the current time. Run a backfill to catch up.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.model.ids import new_id
from engine.store.triggers import Backfill, TriggerState, TriggerStore
from engine.triggers import conditions as cond
from engine.triggers.catalog import Catalog, DeployedTrigger
from engine.triggers.ticks import local_iso, next_tick, parse_instant, prev_tick, ticks_between

if TYPE_CHECKING:
    from engine.runtime.local import LocalRunner

log = logging.getLogger("lanner.scheduler")

BACKFILL_TICKS_PER_LOOP = 10
MAX_BACKFILL_TICKS = 10_000
MAX_CATCH_UP = 100  # ticks fired in one loop when the process was briefly stalled


def iso_utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


class TriggerFailure(ValueError):
    """A trigger request refused (unknown trigger, wrong type, bad range); the message says why."""


class Scheduler:
    """Trigger evaluation loop bound to a :class:`~engine.runtime.local.LocalRunner`."""

    def __init__(self, runner: LocalRunner, *, interval: float = 1.0, clock: Callable[[], datetime] | None = None):
        from engine.triggers.date_ticks import DateTriggers
        from engine.triggers.file_trigger import FileTriggers
        from engine.triggers.flow_trigger import FlowTriggers
        from engine.triggers.polling import PollingTriggers

        self.runner = runner
        self.store = TriggerStore(runner.store)
        self.catalog = Catalog(runner.store)
        self.interval = interval
        self.clock = clock or (lambda: datetime.now(UTC))
        self.files = FileTriggers(self)
        self.dates = DateTriggers(self)
        self.flows = FlowTriggers(self)
        self.polling = PollingTriggers(self)
        self._ended: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fresh = True  # first pass after start: skip ticks missed while down
        self.last_loop = 0.0
        self._orphan_check = 0.0
        self.fired = 0
        runner.listeners.append(self._on_end)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lanner-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._on_end in self.runner.listeners:
            self.runner.listeners.remove(self._on_end)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def _on_end(self, summary: dict[str, Any]) -> None:
        # Called on the executor loop thread: queue it and return at once.
        self._ended.put(summary)
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the scheduler must survive a bad flow or a busy database
                log.exception("scheduler pass failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_once(self, now: datetime | None = None) -> None:
        now = now or self.clock()
        self.last_loop = time.monotonic()
        self.catalog.refresh()
        states = self.store.all()
        self._schedules(now, states)
        self.dates.poll(now, states)
        if time.monotonic() - self._orphan_check >= 5:
            self._orphan_check = time.monotonic()
            self._recover_orphans()
        self._backfills(now)
        self.files.poll(states)
        self.polling.poll(states)
        self._drain_ended(states)
        self._fresh = False

    # --- schedules ---------------------------------------------------------------------------------

    def _schedules(self, now: datetime, states: dict[tuple[str, str, str], TriggerState]) -> None:
        for dt in self.catalog.triggers("schedule"):
            st = states.get(dt.key) or TriggerState(*dt.key)
            trig = dt.trigger
            if not dt.active or st.disabled:
                continue
            signature = f"{trig.cron}|{trig.timezone}"
            if st.next_date is None or st.signature != signature or (self._fresh and parse_instant(st.next_date) < now - timedelta(seconds=self.interval * 2)):
                nxt = next_tick(trig.cron, trig.timezone, now)
                st.next_date, st.signature = (iso_utc(nxt) if nxt else None), signature
                self.store.save(st)
                continue
            due: datetime | None = parse_instant(st.next_date)
            fired = 0
            while due is not None and due <= now and fired < MAX_CATCH_UP:
                self._fire_tick(dt, due, now, source="schedule")
                due = next_tick(trig.cron, trig.timezone, due)
                fired += 1
            if fired:
                st.next_date = iso_utc(due) if due else None
                fresh = self.store.get(*dt.key)
                st.disabled = fresh.disabled if fresh else st.disabled  # stopAfter may have disabled it meanwhile
                self.store.save(st)

    def schedule_conditions(self, dt: DeployedTrigger) -> list[dict[str, Any]]:
        return list(dt.trigger.conditions or []) + list(dt.trigger.schedule_conditions or [])

    def _fire_tick(self, dt: DeployedTrigger, date: datetime, now: datetime, *, source: str, backfill: Backfill | None = None) -> str | None:
        trig = dt.trigger
        if backfill is None and trig.late_maximum_delay is not None and now - date > trig.late_maximum_delay:
            log.warning("%s.%s trigger %s: tick %s skipped, later than lateMaximumDelay", *dt.key, date)
            return None
        local = date.astimezone(_zone(trig.timezone))
        try:
            if not cond.schedule_ok(self.schedule_conditions(dt), local, {"namespace": dt.namespace, "id": dt.flow_id}):
                return None
        except cond.ConditionError as exc:
            self._error(dt, str(exc))
            return None
        planned_id = new_id() if backfill is None else None
        if not self.store.claim(*dt.key, iso_utc(date), source=source, execution_id=planned_id):
            return None
        return self._start_tick(dt, date, source=source, backfill=backfill, execution_id=planned_id)

    def _start_tick(self, dt: DeployedTrigger, date: datetime, *, source: str, backfill: Backfill | None, execution_id: str | None) -> str | None:
        """Start the execution of a claimed tick (also used to restart an orphaned firing)."""
        trig = dt.trigger
        nxt, prev = next_tick(trig.cron, trig.timezone, date), prev_tick(trig.cron, trig.timezone, date)
        variables = {
            "id": trig.id,
            "type": dt.kind,
            "date": local_iso(date, trig.timezone),
            "next": local_iso(nxt, trig.timezone) if nxt else None,
            "previous": local_iso(prev, trig.timezone) if prev else None,
        }
        inputs = {**(trig.inputs or {}), **(backfill.inputs if backfill else {})}
        labels = dict(backfill.labels) if backfill else {}
        if backfill is not None:
            variables["backfill"] = backfill.id
            labels.setdefault("backfill", backfill.id)
        ex_id = self.start_flow(dt, inputs, variables, labels=labels, execution_id=execution_id)
        if ex_id != execution_id:
            # None (could not start: recorded as such, never retried) or an id we did not plan.
            self.store.set_execution(*dt.key, iso_utc(date), ex_id, source=source)
        return ex_id

    def _recover_orphans(self) -> None:
        """Start again the ticks whose firing was recorded but whose execution never was.

        That happens when a scheduler dies between the two writes. The firing
        row carries the planned execution id; exactly one scheduler wins
        :meth:`TriggerStore.take_orphan` and starts the tick under a new id.
        """
        triggers = {dt.key: dt for dt in self.catalog.triggers("schedule")}
        for firing in self.store.orphans():
            dt = triggers.get((firing.namespace, firing.flow_id, firing.trigger_id))
            if dt is None or not dt.active:
                continue
            replacement = new_id()
            if self.store.take_orphan(firing, replacement):
                log.warning("%s.%s trigger %s: tick %s had no execution (its scheduler died); starting it now", *dt.key, firing.date)
                self._start_tick(dt, parse_instant(firing.date), source=firing.source, backfill=None, execution_id=replacement)

    # --- starting executions ---------------------------------------------------------------------------

    def start_flow(
        self,
        dt: DeployedTrigger,
        inputs: dict[str, Any],
        variables: dict[str, Any],
        *,
        labels: dict[str, str] | None = None,
        execution_id: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> str | None:
        """Render the trigger's inputs with ``trigger`` (and ``context``: an upstream execution's variables)
        and ``secret()``, and start the flow; None on failure."""
        try:
            base = context or {"flow": {"id": dt.flow_id, "namespace": dt.namespace}}
            functions = {"secret": self.runner.secrets.function(dt.namespace)}
            rendered = render(inputs, {**base, "trigger": variables}, functions)
            kwargs: dict[str, Any] = {"labels": labels or None, "trigger": variables, "wait_persisted": False}
            if execution_id is not None:
                kwargs["execution_id"] = execution_id
            ex_id = self.runner.start_execution(dt.namespace, dt.flow_id, rendered, **kwargs)
        except Exception as exc:  # noqa: BLE001 - bad inputs, a disabled or deleted flow: logged, never fatal
            self._error(dt, f"could not start the flow: {exc}")
            return None
        self.fired += 1
        return ex_id

    def _error(self, dt: DeployedTrigger, message: str) -> None:
        log.error("%s.%s trigger %s: %s", dt.namespace, dt.flow_id, dt.trigger_id, message)
        st = self.store.get(*dt.key) or TriggerState(*dt.key)
        st.last_error = message
        self.store.save(st)

    # --- ended executions: Flow triggers and stopAfter ----------------------------------------------------

    def _drain_ended(self, states: dict[tuple[str, str, str], TriggerState]) -> None:
        while True:
            try:
                summary = self._ended.get_nowait()
            except queue.Empty:
                return
            self._stop_after(summary)
            self.flows.on_end(summary, states)

    def _stop_after(self, summary: dict[str, Any]) -> None:
        trig_vars = summary.get("trigger") or {}
        if trig_vars.get("type") != "schedule" or not trig_vars.get("id"):
            return
        dt = self.catalog.find(summary["namespace"], summary["flowId"], trig_vars["id"], refresh=False)
        if dt is None or not dt.trigger.stop_after:
            return
        if summary["state"] in [s.upper() for s in dt.trigger.stop_after]:
            self.store.set_disabled(*dt.key, True)
            log.warning("%s.%s trigger %s disabled: an execution ended %s (stopAfter)", *dt.key, summary["state"])

    # --- backfills -------------------------------------------------------------------------------------

    def create_backfill(
        self, namespace: str, flow_id: str, trigger_id: str, start: str, end: str | None, inputs: dict[str, Any] | None = None, labels: dict[str, str] | None = None
    ) -> Backfill:
        dt = self.catalog.find(namespace, flow_id, trigger_id)
        if dt is None:
            raise LookupError(f"flow {namespace}.{flow_id} has no trigger '{trigger_id}'")
        if dt.kind != "schedule":
            raise TriggerFailure(f"trigger '{trigger_id}' is a {dt.kind} trigger; only Schedule triggers can be backfilled")
        try:
            begin = parse_instant(start, dt.trigger.timezone)
            finish = parse_instant(end, dt.trigger.timezone) if end else self.clock()
        except ValueError:
            raise TriggerFailure("start and end must be ISO-8601 date-times such as 2024-01-01T00:00:00Z") from None
        if finish <= begin:
            raise TriggerFailure("end must be after start")
        if finish > self.clock() + timedelta(days=366):
            raise TriggerFailure("end is more than a year ahead; a backfill replays past ticks")
        total = 0
        for tick in ticks_between(dt.trigger.cron, dt.trigger.timezone, begin, finish, limit=MAX_BACKFILL_TICKS + 1):
            local = tick.astimezone(_zone(dt.trigger.timezone))
            if cond.schedule_ok(self.schedule_conditions(dt), local, {"namespace": dt.namespace, "id": dt.flow_id}):
                total += 1
            if total > MAX_BACKFILL_TICKS:
                raise TriggerFailure(f"the range holds more than {MAX_BACKFILL_TICKS} ticks; split it")
        bf = self.store.create_backfill(namespace, flow_id, trigger_id, iso_utc(begin), iso_utc(finish), total, inputs, labels)
        self.wake()
        return bf

    def _backfills(self, now: datetime) -> None:
        for bf in self.store.backfills(state="RUNNING"):
            dt = self.catalog.find(bf.namespace, bf.flow_id, bf.trigger_id, refresh=False)
            if dt is None or dt.kind != "schedule":
                self.store.set_backfill_state(bf.id, "CANCELLED", only_from=("RUNNING",))
                continue
            cursor = parse_instant(bf.cursor) if bf.cursor else parse_instant(bf.start) - timedelta(microseconds=1)
            end = parse_instant(bf.end)
            done = bf.done
            for _ in range(BACKFILL_TICKS_PER_LOOP):
                tick = next_tick(dt.trigger.cron, dt.trigger.timezone, cursor)
                if tick is None or tick >= end:
                    self.store.advance_backfill(bf.id, iso_utc(cursor), done, "SUCCESS")
                    break
                local = tick.astimezone(_zone(dt.trigger.timezone))
                if cond.schedule_ok(self.schedule_conditions(dt), local, {"namespace": dt.namespace, "id": dt.flow_id}):
                    self._fire_tick(dt, tick, now, source=f"backfill:{bf.id}", backfill=bf)
                    done += 1
                cursor = tick
                self.store.advance_backfill(bf.id, iso_utc(cursor), done, "RUNNING")
                current = self.store.get_backfill(bf.id)
                if current is None or current.state != "RUNNING":
                    break

    # --- queries for the API ------------------------------------------------------------------------------

    def describe(self) -> list[dict[str, Any]]:
        """Every trigger of every deployed flow with its schedule and last firing."""
        states = self.store.all()
        out = []
        for dt in self.catalog.triggers(refresh=True):
            st = states.get(dt.key)
            last = self.store.last_firing(*dt.key)
            last_state = None
            if last and last.execution_id:
                ex = self.runner.store.get_execution(last.execution_id)
                last_state = str(ex.state) if ex else None
            item: dict[str, Any] = {
                "namespace": dt.namespace,
                "flowId": dt.flow_id,
                "triggerId": dt.trigger_id,
                "type": dt.kind,
                "disabled": bool(st and st.disabled) or not dt.active,
                "disabledInFlow": not dt.active,
                "nextExecutionDate": None,
                "lastTriggerDate": (last.created if last.source in ("file", "flow", "poll") else last.date) if last else None,
                "lastExecutionId": last.execution_id if last else None,
                "lastExecutionState": last_state,
                "lastError": st.last_error if st else None,
            }
            if dt.kind == "schedule":
                item["cron"] = dt.trigger.cron
                item["timezone"] = dt.trigger.timezone
                if not item["disabled"]:
                    nxt = parse_instant(st.next_date) if st and st.next_date else next_tick(dt.trigger.cron, dt.trigger.timezone, self.clock())
                    item["nextExecutionDate"] = local_iso(nxt, dt.trigger.timezone) if nxt else None
                item["backfills"] = [b.to_dict() for b in self.store.backfills(namespace=dt.namespace, flow_id=dt.flow_id, trigger_id=dt.trigger_id)]
            out.append(item)
        return out

    def set_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> None:
        if self.catalog.find(namespace, flow_id, trigger_id) is None:
            raise LookupError(f"flow {namespace}.{flow_id} has no trigger '{trigger_id}'")
        self.store.set_disabled(namespace, flow_id, trigger_id, disabled)
        self.wake()


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def render(value: object, context: dict[str, Any], functions: dict[str, Any] | None = None) -> Any:
    """Render trigger inputs (``{{ trigger.date }}``) with the shared expression engine."""
    if not value:
        return value
    from engine import expressions

    return expressions.render(value, context, functions=functions)
