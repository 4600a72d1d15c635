"""The deployed flows' triggers, as the scheduler sees them (parsed once per revision)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from engine.model.flow import Flow
from engine.model.validation import load_flow
from engine.store.sql import SqlStore


@dataclass(frozen=True)
class DeployedTrigger:
    flow: Flow
    trigger: Any  # a concrete trigger model (Schedule, FlowTrigger, Webhook, FileTrigger)

    @property
    def namespace(self) -> str:
        return self.flow.namespace

    @property
    def flow_id(self) -> str:
        return self.flow.id

    @property
    def trigger_id(self) -> str:
        return self.trigger.id

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.flow.namespace, self.flow.id, self.trigger.id)

    @property
    def kind(self) -> str:
        return type(self.trigger).canonical

    @property
    def active(self) -> bool:
        """Neither the flow nor the trigger is disabled in the YAML."""
        return not self.flow.disabled and not self.trigger.disabled


class Catalog:
    """Latest revision of every flow, re-parsed only when its revision changes."""

    def __init__(self, store: SqlStore):
        self.store = store
        self._flows: dict[tuple[str, str], Flow] = {}
        self._lock = threading.Lock()

    def refresh(self) -> list[Flow]:
        records = self.store.list_flows()
        fresh: dict[tuple[str, str], Flow] = {}
        with self._lock:
            for rec in records:
                key = (rec.namespace, rec.id)
                cached = self._flows.get(key)
                if cached is not None and cached.revision == rec.revision:
                    fresh[key] = cached
                    continue
                try:
                    flow = load_flow(rec.source)
                except ValueError:
                    continue  # stored before a validation rule changed: it cannot trigger anything
                flow.revision = rec.revision
                fresh[key] = flow
            self._flows = fresh
            return list(fresh.values())

    def flows(self) -> list[Flow]:
        with self._lock:
            return list(self._flows.values())

    def flow(self, namespace: str, flow_id: str) -> Flow | None:
        with self._lock:
            return self._flows.get((namespace, flow_id))

    def triggers(self, kind: str | None = None, *, refresh: bool = False) -> list[DeployedTrigger]:
        flows = self.refresh() if refresh else self.flows()
        out = []
        for flow in flows:
            for trig in flow.triggers or []:
                dt = DeployedTrigger(flow, trig)
                if kind is None or dt.kind == kind:
                    out.append(dt)
        return out

    def find(self, namespace: str, flow_id: str, trigger_id: str, *, refresh: bool = True) -> DeployedTrigger | None:
        if refresh:
            self.refresh()
        flow = self.flow(namespace, flow_id)
        if flow is None:
            return None
        for trig in flow.triggers or []:
            if trig.id == trigger_id:
                return DeployedTrigger(flow, trig)
        return None
