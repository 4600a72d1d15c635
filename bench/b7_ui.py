"""B7 UI: the editor canvas with 500 tasks (bench/b7_canvas.py, headless Chromium) and the execution page.

Runs ``bench/b7_canvas.py`` in its own process and turns its JSON line into
figures, then ``bench/b7_execution_page.py`` (the execution page of a
1,000-task-run execution, opened on the real server).

    .venv/bin/python -m bench.b7_ui [--tasks 500]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

from bench.common import REPO, emit, unavailable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B7 UI")
    parser.add_argument("--tasks", type=int, default=500)
    args = parser.parse_args(argv)
    if shutil.which("chromium") is None:
        unavailable("B7", "chromium is not installed (make browser-deps)")
    else:
        out = subprocess.run([sys.executable, str(REPO / "bench" / "b7_canvas.py"), "--tasks", str(args.tasks)],
                             cwd=REPO, capture_output=True, text=True, timeout=200)
        line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
        if out.returncode != 0 or line is None:
            unavailable("B7", f"b7_canvas.py failed: {(out.stderr.strip().splitlines() or ['no output'])[-1]}")
        else:
            r = json.loads(line)
            emit("B7", f"canvas {r['tasks']} tasks: Python set -> last node in DOM", r["python_to_dom_ms"], "ms")
            emit("B7", f"canvas {r['tasks']} tasks: browser render", r["browser_render_ms"], "ms")
            emit("B7", "canvas: delete click -> Python", r["delete_round_trip_ms"], "ms")
            for action in ("fit", "zoom_in", "zoom_out", "pan"):
                emit("B7", f"canvas {r['tasks']} tasks: {action.replace('_', ' ')} (call -> painted)",
                     r[f"{action}_ms"], "ms")
                emit("B7", f"canvas {r['tasks']} tasks: {action.replace('_', ' ')}, fastest sample",
                     r[f"{action}_best_ms"], "ms")
        out = subprocess.run([sys.executable, str(REPO / "bench" / "b7_execution_page.py"), "--runs", "1000"],
                             cwd=REPO, capture_output=True, text=True, timeout=400)
        line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
        if out.returncode != 0 or line is None:
            unavailable("B7", f"b7_execution_page.py failed: {(out.stderr.strip().splitlines() or ['no output'])[-1]}")
        else:
            r = json.loads(line)
            emit("B7", f"execution page ({r['task_runs']} task runs, {r['log_lines_shown']} log lines): ready", r["page_ready_ms"], "ms")
            emit("B7", "execution page: slowest of the repeats", r["page_ready_max_ms"], "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
