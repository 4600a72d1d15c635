"""Deploy the flows of a directory at start and re-deploy a file when it changes.

Files are polled (modification time and size) every second: no OS-specific
watcher, works on every file system. A file that becomes invalid logs its
validation errors and the flow keeps its previous revision.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from engine.service import Engine

log = logging.getLogger("lanner.flows")


class FlowWatcher:
    def __init__(self, engine: Engine, directory: Path, *, interval: float = 1.0):
        self.engine = engine
        self.directory = Path(directory)
        self.interval = interval
        self._seen: dict[Path, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        found = [p for pattern in ("**/*.yaml", "**/*.yml") for p in self.directory.glob(pattern)]
        return sorted(p for p in found if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.directory).parts))

    def _dashboard(self, path: Path) -> None:
        """A dashboard file (under ``dashboards/``): created when its id is new; one edited in the UI stays."""
        from engine.model.dashboard import DashboardValidationError, parse_dashboard

        try:
            text = path.read_text(encoding="utf-8")
            parsed = parse_dashboard(text)
            if self.engine.dashboard(parsed.id) is None:
                self.engine.save_dashboard(text)
                log.info("%s: created dashboard %s", path, parsed.id)
        except DashboardValidationError as exc:
            log.error("%s: invalid dashboard:\n%s", path, "\n".join(f"  {e}" for e in exc.errors))
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            log.error("%s: could not create the dashboard: %s", path, exc)

    def scan(self) -> list[str]:
        """Deploy every new or changed file; return the flows deployed (``namespace.id``)."""
        deployed = []
        for path in self.files():
            try:
                stat = path.stat()
            except OSError:
                continue
            key = (stat.st_mtime_ns, stat.st_size)
            if self._seen.get(path) == key:
                continue
            self._seen[path] = key
            if path.relative_to(self.directory).parts[0] == "dashboards":
                self._dashboard(path)
                continue
            name = self._deploy(path)
            if name:
                deployed.append(name)
        for gone in [p for p in self._seen if not p.exists()]:
            del self._seen[gone]  # the flow stays deployed: delete it through the API
        return deployed

    def _deploy(self, path: Path) -> str | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.error("%s: cannot read: %s", path, exc)
            return None
        report = self.engine.validate(text)
        if report.errors:
            log.error("%s: invalid flow, the previous revision stays deployed:\n%s", path, "\n".join(f"  {e}" for e in report.errors))
            return None
        try:
            before = self.engine.flow(report.namespace or "", report.flow_id or "")
            flow = self.engine.deploy(text, path=path)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            log.error("%s: could not deploy: %s", path, exc)
            return None
        if before is None or before.revision != flow.revision:
            log.info("%s: deployed %s.%s revision %s", path, flow.namespace, flow.id, flow.revision)
        return f"{flow.namespace}.{flow.id}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lanner-flow-watcher", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.scan()
            except Exception:  # noqa: BLE001 - keep watching
                log.exception("flow directory scan failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
