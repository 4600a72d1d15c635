"""What the API routers use: the in-process Engine, the metrics, and the server's limits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from engine.api.metrics import Metrics
    from engine.local_engine import LocalEngine


@dataclass
class Services:
    engine: LocalEngine
    metrics: Metrics | None = None
    max_body: int = 10 * 1024 * 1024
    wait_timeout: float = 3600.0
    started: float = field(default_factory=time.time)


def services(request: Request) -> Services:
    return request.app.state.services


def engine(request: Request) -> LocalEngine:
    return request.app.state.services.engine
