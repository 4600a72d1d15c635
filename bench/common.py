"""Shared helpers of the benchmarks: flows, figures as JSON lines, memory, floors.

Every benchmark prints one JSON object per figure on stdout (``emit``) so
``bench/run.py`` can collect them; anything else goes to stderr. A figure has
a ``floor`` when plain Python doing the same work gives a physical limit, and
then a ``ratio`` (figure / floor) that stays comparable across machines.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

FLOW3 = """\
id: hello3
namespace: bench
tasks:
  - id: first
    type: log
    message: "hello from {{ execution.id }}"
  - id: second
    type: log
    message: second
  - id: third
    type: log
    message: third
"""


def foreach_flow(n: int, *, script: bool = False, concurrency: int | None = None) -> str:
    """A ForEach over ``n`` values with a ``return`` (or a python script) inside, then a reader of all outputs."""
    if script:
        inner = '      - id: r\n        type: python\n        script: |\n          print(\'::{"outputs": {"value": "{{ taskrun.value }}"}}::\')\n'
        reader = "{{ outputs.r | length }}"
    else:
        inner = '      - id: r\n        type: return\n        format: "{{ taskrun.value }}"\n'
        reader = "{{ outputs.r | length }}"
    conc = f"    concurrencyLimit: {concurrency}\n" if concurrency is not None else ""
    return (
        f"id: fanout{n}{'s' if script else ''}\nnamespace: bench\ntasks:\n"
        f"  - id: loop\n    type: for_each\n    values: \"{{{{ range({n}) | list }}}}\"\n{conc}    tasks:\n{inner}"
        f"  - id: all\n    type: return\n    format: \"{reader}\"\n"
    )


def emit(bench: str, metric: str, value: Any, unit: str = "", **extra: Any) -> dict[str, Any]:
    """Print one figure as a JSON line and return it."""
    row: dict[str, Any] = {"bench": bench, "metric": metric, "value": _round(value), "unit": unit}
    for k, v in extra.items():
        if v is not None:
            row[k] = _round(v)
    if isinstance(row.get("floor"), (int, float)) and isinstance(value, (int, float)) and row["floor"]:
        row.setdefault("ratio", _round(value / row["floor"]))
    print(json.dumps(row), flush=True)
    return row


def unavailable(bench: str, reason: str) -> dict[str, Any]:
    """Report a benchmark that cannot run here, with the reason (never a made-up figure)."""
    return emit(bench, "available", None, "", status="not available", note=reason)


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.4g}") if abs(v) < 1000 else round(v, 1)
    return v


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def dir_size_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return total / 1024 / 1024


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = max(0, min(len(data) - 1, round(q / 100 * len(data) + 0.5) - 1))
    return data[k]


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict[str, Any]:
    """What the figures depend on: the processor, cores, memory, Python, and how busy the machine is."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": _memory_gb(),
        "python": sys.version.split()[0],
        "platform": f"{sys.platform} {os.uname().release}" if hasattr(os, "uname") else sys.platform,
        "load1": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "load": load_average(),
    }


def compile_sources(tree: Path = REPO, python: str | None = None) -> None:
    """Byte-compile a checkout's own code (and its editable-install hooks) before its start-up is timed.

    Installed libraries are compiled at install; Lanner's own modules are not
    when installed editable. With ``PYTHONDONTWRITEBYTECODE`` set (as here and
    on many CI images) every ``lanner`` process would compile ~90 of them from
    source again, a third of a cold run: a cost no installed wheel has.
    """
    python = python or str(tree / ".venv" / "bin" / "python")
    dirs = [d for d in ("engine", "builder", "plugins") if (tree / d).is_dir()]
    code = "import compileall, site, sys; ok = all(compileall.compile_dir(d, quiet=1, workers=0) for d in sys.argv[1:]);" \
           " [compileall.compile_dir(p, maxlevels=0, quiet=1) for p in site.getsitepackages()]; sys.exit(0 if ok else 1)"
    subprocess.run([python, "-c", code, *dirs], cwd=tree, check=True, stdout=subprocess.DEVNULL)


def load_average() -> str | None:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    if not hasattr(os, "getloadavg"):
        return None
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        return None


# --- floors: the same work in plain Python ---------------------------------------------------------


def sqlite_floor_db(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A bare SQLite database with the same durability settings as the store (WAL)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS ex (id TEXT PRIMARY KEY, state TEXT, body TEXT)")
    conn.execute("CREATE TABLE IF NOT EXISTS tr (id TEXT PRIMARY KEY, ex TEXT, state TEXT, body TEXT)")
    conn.execute("CREATE TABLE IF NOT EXISTS lg (id INTEGER PRIMARY KEY, ex TEXT, tr TEXT, msg TEXT)")
    return conn


def floor_execution(conn: sqlite3.Connection, tasks: int, log: list[str]) -> None:
    """One execution of ``tasks`` log tasks done by hand: run them, store every row in one transaction.

    The least any durable orchestrator must do: the task work itself (format a
    message), one execution row, one row per task run and per log line, one
    commit.
    """
    ex_id = os.urandom(11).hex()
    rows, logs = [], []
    for i in range(tasks):
        msg = f"task {i} of {ex_id}"
        log.append(msg)
        tr_id = os.urandom(11).hex()
        rows.append((tr_id, ex_id, "SUCCESS", json.dumps({"attempts": [{"state": "SUCCESS"}]})))
        logs.append((ex_id, tr_id, msg))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO ex VALUES (?, ?, ?)", (ex_id, "SUCCESS", "{}"))
    conn.executemany("INSERT INTO tr VALUES (?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO lg (ex, tr, msg) VALUES (?, ?, ?)", logs)
    conn.execute("COMMIT")
