"""Two task properties a worker honours around an attempt: ``logToFile`` and ``taskCache``.

* ``logToFile`` (Kestra): the attempt's log lines go to a file in internal storage instead of
  the log store; the attempt records the file as its ``logFile``.
* ``taskCache`` (Kestra 0.24+): before running, the worker looks for the state and outputs of an
  earlier successful run of the same task definition with the same execution inputs (and loop
  value) younger than ``ttl``; found, they are the attempt's result and the task does not run.
  After a successful run they are kept for the next ones. The cache lives in internal storage,
  so every worker (threads, other processes, Dask machines) shares it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.model.state import State
from engine.runtime.context import RunContext


@contextmanager
def log_to_file(task: object, ctx: RunContext) -> Iterator[list[str]]:
    """With ``logToFile``, send the attempt's log lines to a file; the list yields its storage URI at the end."""
    result: list[str] = []
    if not getattr(task, "log_to_file", False):
        yield result
        return
    base = Path(ctx.home) / "tmp" if ctx.home is not None else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    import tempfile  # only for a task that logs to a file

    fd, name = tempfile.mkstemp(prefix=f"lanner-log-{ctx.task_id}-", suffix=".txt", dir=base)
    lock = threading.Lock()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:

        def write(level: str, message: str) -> None:
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            with lock:
                fh.write(f"{stamp} {level:<5} {message}\n")

        ctx.logger = ctx.logger.redirect(write)
        try:
            yield result
        finally:
            fh.flush()
    result.append(ctx.output_file(name, f"logs-attempt-{ctx.attempt + 1}.txt"))
    if ctx.put_file is not None:  # stored: the local copy is no longer needed
        Path(name).unlink(missing_ok=True)


def _cache_name(task: Any, ctx: RunContext) -> str:
    definition = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    execution_inputs = ctx.variables.get("inputs") or {}
    value = (ctx.variables.get("taskrun") or {}).get("value")
    import hashlib  # only for a task with a cache key

    digest = hashlib.sha256(json.dumps([definition, execution_inputs, value], sort_keys=True, default=str).encode()).hexdigest()
    return f"task-cache/{task.id}/{digest}.json"


def cached_result(task: object, ctx: RunContext) -> tuple[State, dict[str, Any]] | None:
    """The state and outputs an earlier run left in the task cache, or None (no cache, expired, disabled)."""
    cache = getattr(task, "task_cache", None)
    if cache is None or not cache.enabled:
        return None
    from engine.storage import StorageError, storage_for_context

    ttl = cache.ttl.total_seconds() if cache.ttl is not None else None
    try:
        data = storage_for_context(ctx).cache_get(ctx.namespace, ctx.flow_id, _cache_name(task, ctx), ttl)
    except (StorageError, OSError) as exc:
        ctx.logger.warn(f"the task cache could not be read ({exc}); the task runs")
        return None
    if data is None:
        return None
    kept = json.loads(data)
    ctx.logger.info(f"outputs taken from the task cache (a run of {kept.get('date')}, ttl {cache.ttl or 'none'}); the task did not run")
    return State(kept["state"]), kept.get("outputs") or {}


def keep_result(task: object, ctx: RunContext, state: State, outputs: dict[str, Any] | None) -> None:
    """Keep a successful run's state and outputs in the task cache."""
    cache = getattr(task, "task_cache", None)
    if cache is None or not cache.enabled or state not in (State.SUCCESS, State.WARNING):
        return
    from engine.storage import StorageError, storage_for_context

    record = {"state": str(state), "outputs": outputs or {}, "date": datetime.now(UTC).isoformat()}
    try:
        storage_for_context(ctx).cache_put(ctx.namespace, ctx.flow_id, _cache_name(task, ctx), json.dumps(record, default=str).encode())
    except (StorageError, OSError) as exc:
        ctx.logger.warn(f"the task cache could not be written: {exc}")
