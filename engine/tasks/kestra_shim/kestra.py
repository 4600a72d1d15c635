"""Kestra's Python helper (``from kestra import Kestra``) for scripts Lanner runs.

Lanner copies this file into a Python task's working directory when the task's
code imports ``kestra`` and the task does not install Kestra's own package. Each
call prints one ``::{...}::`` line, which the task turns into outputs, metrics or
log lines, as Kestra's package does.
"""

import json
import logging
import sys
import time


class Kestra:
    """Outputs, metrics and logs sent back to the orchestrator."""

    @staticmethod
    def _send(payload):
        print("::" + json.dumps(payload, default=str) + "::", flush=True)

    @staticmethod
    def outputs(values):
        Kestra._send({"outputs": values})

    @staticmethod
    def counter(name, value, tags=None):
        Kestra._send({"metrics": [{"name": name, "type": "counter", "value": value, "tags": tags or {}}]})

    @staticmethod
    def timer(name, duration, tags=None):
        """``duration``: seconds, or a function whose run is timed."""
        if callable(duration):
            start = time.perf_counter()
            duration()
            duration = time.perf_counter() - start
        Kestra._send({"metrics": [{"name": name, "type": "timer", "value": duration, "tags": tags or {}}]})

    @staticmethod
    def logger():
        log = logging.getLogger("Kestra")
        if not log.handlers:
            log.addHandler(_Handler())
            log.setLevel(logging.DEBUG)
            log.propagate = False
        return log


class _Handler(logging.Handler):
    def emit(self, record):
        level = {"WARNING": "WARN", "CRITICAL": "ERROR"}.get(record.levelname, record.levelname)
        sys.stdout.write("::" + json.dumps({"logs": [{"level": level, "message": self.format(record)}]}) + "::\n")
        sys.stdout.flush()
