"""A runner process for the fault tests: LocalRunner(recover=True) until nothing is unfinished.

    python runner_proc.py FLOWS_DIR [--start NAMESPACE.FLOW_ID --count N]

Uses LANNER_HOME / LANNER_DATABASE_URL like the server. Prints ``recovered N
in S`` once the executions it claimed at start are back in its loop, ``started
ID`` per execution it starts, and exits 0 when no unfinished execution is left.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from engine.runtime.local import LocalRunner  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("flows", type=Path)
    p.add_argument("--start")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--linger", type=float, default=0, help="stay this long after all ended")
    args = p.parse_args()
    t0 = time.monotonic()
    runner = LocalRunner(recover=True, workers=32)
    runner.sync()
    n = len(runner.held_executions())
    print(f"recovered {n} in {time.monotonic() - t0:.3f}", flush=True)
    runner.deploy_dir(args.flows)
    if args.start:
        ns, _, fid = args.start.rpartition(".")
        for _ in range(args.count):
            print(f"started {runner.start_execution(ns, fid)}", flush=True)
    while runner.store.unfinished_execution_ids():
        time.sleep(0.1)
    time.sleep(args.linger)
    runner.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
