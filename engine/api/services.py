"""What the API routers use: the runner, the scheduler, the stores, and the server's limits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from engine.store.kv import KvStore


@dataclass
class Services:
    runner: Any  # engine.runtime.local.LocalRunner
    scheduler: Any | None = None  # engine.triggers.scheduler.Scheduler
    metrics: Any | None = None  # engine.api.metrics.Metrics
    max_body: int = 10 * 1024 * 1024
    wait_timeout: float = 3600.0
    started: float = field(default_factory=time.time)
    kv: KvStore = field(init=False)

    def __post_init__(self) -> None:
        self.kv = KvStore(self.runner.store)

    def mask(self, data: Any) -> Any:
        """Mask every known secret value in data leaving the API."""
        return self.runner.secrets.mask_data(data)


def services(request: Request) -> Services:
    return request.app.state.services
