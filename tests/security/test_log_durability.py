"""Log lines printed at least 1 s before the worker is SIGKILLed are in the store.

A script prints one line per millisecond (and appends each to a file, the
ground truth that survives the kill); ``lanner flow run`` is SIGKILLed a few
seconds in; the SQLite file is then read directly. Every line printed at
least one second before the kill must be there (the runner drains logs into
the store at least every 100 ms).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from textwrap import dedent


def test_lines_printed_a_second_before_a_sigkill_are_stored(tmp_path: Path, lanner_cmd: list[str], cli_env: dict[str, str],
                                                            lanner_home: Path):
    truth = tmp_path / "printed.txt"
    flow = tmp_path / "chatty.yaml"
    flow.write_text(dedent(f"""
        id: chatty
        namespace: sec.logs
        tasks:
          - id: tick
            type: python
            script: |
              import time
              start = time.monotonic()
              with open({str(truth)!r}, "a", buffering=1) as truth:
                  for n in range(60000):
                      line = f"tick {{n}} {{time.time():.6f}}"
                      print(line, flush=True)
                      truth.write(line + "\\n")
                      time.sleep(max(0.0, start + (n + 1) / 1000 - time.monotonic()))  # 1000 lines/s on average
    """))
    proc = subprocess.Popen([*lanner_cmd, "flow", "run", str(flow)], cwd=tmp_path, env=cli_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (truth.exists() and truth.stat().st_size > 0):
            assert proc.poll() is None, "lanner flow run ended before the script printed"
            assert time.monotonic() < deadline, "the script never started"
            time.sleep(0.05)
        time.sleep(4)
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    time.sleep(0.2)  # the script dies with its worker (PR_SET_PDEATHSIG): its last writes are in

    printed = {}
    for line in truth.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            printed[line] = float(parts[2])
    due = {line for line, at in printed.items() if at <= killed_at - 1.0}
    with sqlite3.connect(lanner_home / "lanner.db") as db:
        stored = {row[0] for row in db.execute("SELECT message FROM logs WHERE task_id = 'tick'")}
    assert len(due) > 1000, f"only {len(due)} lines were printed in time: the machine is too slow to measure"
    missing = due - stored
    share = 1 - len(missing) / len(due)
    print(f"stored {len(due) - len(missing)} of {len(due)} lines printed >= 1 s before SIGKILL ({share:.4%})")
    assert share >= 0.999, f"{len(missing)} of {len(due)} lines lost, e.g. {sorted(missing)[:3]}"
    assert not missing, f"{len(missing)} of {len(due)} lines lost ({share:.4%}), e.g. {sorted(missing)[:3]}"
