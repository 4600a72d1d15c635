"""File triggers: poll a local directory and start one execution per new file.

Each file is identified by its real path, modification time and size. That
identity is recorded in the store *before* the execution starts, so a file is
never picked up twice (also after a crash, or with two schedulers). The file
is copied to internal storage (``{{ trigger.uri }}``) and then moved to
``moveDirectory`` (default ``<directory>/.processed``), deleted, or left in
place (``action: NONE``). A relative ``directory`` is read from the server's
working directory.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from engine.model.ids import new_id
from engine.store.triggers import TriggerState
from engine.triggers.catalog import DeployedTrigger

if TYPE_CHECKING:
    from engine.triggers.scheduler import Scheduler

log = logging.getLogger("lanner.scheduler")

DEFAULT_INTERVAL = 10.0
MAX_FILES_PER_POLL = 100


class FileTriggers:
    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler
        self._last_poll: dict[tuple[str, str, str], float] = {}

    def poll(self, states: dict[tuple[str, str, str], TriggerState]) -> None:
        now = time.monotonic()
        for dt in self.scheduler.catalog.triggers("file"):
            st = states.get(dt.key)
            if not dt.active or (st is not None and st.disabled):
                continue
            interval = dt.trigger.interval.total_seconds() if dt.trigger.interval else DEFAULT_INTERVAL
            if now - self._last_poll.get(dt.key, 0.0) < interval:
                continue
            self._last_poll[dt.key] = now
            try:
                self._scan(dt)
            except OSError as exc:
                self.scheduler._error(dt, f"cannot read directory {dt.trigger.directory}: {exc.strerror or exc}")

    def _processed_dir(self, dt: DeployedTrigger, directory: Path) -> Path:
        return Path(dt.trigger.move_directory) if dt.trigger.move_directory else directory / ".processed"

    def _scan(self, dt: DeployedTrigger) -> None:
        directory = Path(dt.trigger.directory)
        if not directory.is_dir():
            return
        skip = self._processed_dir(dt, directory).resolve()
        found = 0
        for path in sorted(directory.glob(dt.trigger.glob)):
            if found >= MAX_FILES_PER_POLL:
                break
            if not path.is_file() or path.name.startswith(".") or path.resolve().is_relative_to(skip):
                continue
            found += 1
            self._take(dt, path)

    def _take(self, dt: DeployedTrigger, path: Path) -> None:
        stat = path.stat()
        identity = f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"
        key = "file:" + hashlib.sha256(identity.encode()).hexdigest()
        store = self.scheduler.store
        if not store.claim(*dt.key, key, source="file"):
            return
        ex_id = new_id()
        storage = self.scheduler.runner.storage
        uri = f"lanner:///{dt.namespace}/{dt.flow_id}/executions/{ex_id}/trigger/{quote(path.name, safe='')}"
        try:
            uri = storage.put_bytes(uri, path.read_bytes(), namespace=dt.namespace)
        except Exception as exc:  # noqa: BLE001 - an unreadable or oddly named file is logged, not fatal
            self.scheduler._error(dt, f"could not copy {path.name} to internal storage: {exc}")
            return
        variables = {
            "id": dt.trigger_id,
            "type": dt.kind,
            "uri": uri,
            "path": str(path.resolve()),
            "name": path.name,
            "size": stat.st_size,
            "date": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
        }
        started = self.scheduler.start_flow(dt, dict(dt.trigger.inputs or {}), variables, execution_id=ex_id)
        if started:
            store.set_execution(*dt.key, key, started, source="file")
        self._after(dt, path)

    def _after(self, dt: DeployedTrigger, path: Path) -> None:
        action = dt.trigger.action
        try:
            if action == "DELETE":
                path.unlink(missing_ok=True)
            elif action == "MOVE":
                dest_dir = self._processed_dir(dt, path.parent)
                dest_dir.mkdir(parents=True, exist_ok=True)
                dest = dest_dir / path.name
                if dest.exists():
                    dest = dest_dir / f"{path.stem}.{new_id()[-8:]}{path.suffix}"  # the counting end of the id: unique
                shutil.move(str(path), str(dest))
        except OSError as exc:
            log.error("%s.%s trigger %s: could not %s %s: %s", *dt.key, action.lower(), path, exc)
