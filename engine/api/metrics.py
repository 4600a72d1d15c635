"""Prometheus text exposition (format 0.0.4), written by hand (no client library).

Gauges are read from the store at scrape time (executions by state, queued
executions); counters and the task-duration histogram are kept in memory from
the runner's end-of-execution listener, so they count since the process started.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.local_engine import LocalEngine

BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    except ValueError:
        return None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self, engine: LocalEngine):
        self.engine = engine
        self._lock = threading.Lock()
        self._ended: dict[str, int] = {}
        self._buckets = [0] * len(BUCKETS)
        self._count = 0
        self._sum = 0.0
        engine.on_execution_end(self.on_end)

    def on_end(self, summary: dict[str, Any]) -> None:
        with self._lock:
            self._ended[summary["state"]] = self._ended.get(summary["state"], 0) + 1
            for tr in summary.get("taskRuns") or []:
                secs = _seconds(tr.get("startDate"), tr.get("endDate"))
                if secs is None:
                    continue
                self._count += 1
                self._sum += secs
                for i, bound in enumerate(BUCKETS):
                    if secs <= bound:
                        self._buckets[i] += 1

    def render(self) -> str:
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                lines.append(f"{name}{labels} {value:g}" if isinstance(value, float) else f"{name}{labels} {value}")

        stats = self.engine.stats()
        by_state = stats.executions_by_state
        metric("lanner_executions", "gauge", "Stored executions by state.", [(f'{{state="{_escape(s)}"}}', n) for s, n in sorted(by_state.items())])
        with self._lock:
            ended = dict(self._ended)
            buckets, count, total = list(self._buckets), self._count, self._sum
        metric("lanner_executions_ended_total", "counter", "Executions that ended since the server started, by final state.",
               [(f'{{state="{_escape(s)}"}}', n) for s, n in sorted(ended.items())])
        samples = [(f'{{le="{b:g}"}}', buckets[i]) for i, b in enumerate(BUCKETS)] + [('{le="+Inf"}', count)]
        lines.append("# HELP lanner_task_run_duration_seconds Duration of task runs of executions that ended since the server started.")
        lines.append("# TYPE lanner_task_run_duration_seconds histogram")
        for labels, value in samples:
            lines.append(f"lanner_task_run_duration_seconds_bucket{labels} {value}")
        lines.append(f"lanner_task_run_duration_seconds_sum {total:g}")
        lines.append(f"lanner_task_run_duration_seconds_count {count}")
        metric("lanner_queue_depth", "gauge", "Executions waiting for a concurrency slot (QUEUED).", [("", by_state.get("QUEUED", 0))])
        metric("lanner_worker_running", "gauge", "Task attempts running on the worker pool now.", [("", stats.workers_running)])
        metric("lanner_worker_pool_size", "gauge", "Size of the worker pool.", [("", stats.workers)])
        if stats.trigger_firings is not None:
            metric("lanner_trigger_firings_total", "counter", "Executions started by triggers since the server started.", [("", stats.trigger_firings)])
        return "\n".join(lines) + "\n"
