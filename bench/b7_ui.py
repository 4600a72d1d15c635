"""B7 UI: the editor canvas with 200 tasks (bench/b7_canvas.py, headless Chromium) and the execution page.

Runs ``bench/b7_canvas.py`` in its own process and turns its JSON line into
figures. The execution page of a 1,000-task-run execution has no benchmark
harness yet and is reported as not available, with the reason.

    .venv/bin/python -m bench.b7_ui [--tasks 200]
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
    parser.add_argument("--tasks", type=int, default=200)
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
    unavailable("B7", "execution page (1,000 task runs): no benchmark harness for builder/pages/execution.py yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
