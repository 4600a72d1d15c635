"""Issue-20 figures in instructions, which a noisy machine does not move: valgrind (cachegrind) counts them.

Times on a shared or virtual machine move by tens of percent from run to run (the
same light-task figure went from 57 to 105 µs in one run); the number of
instructions a short single-purpose process executes moves by ~0.1 %. For each
checkout given this prints, as a JSON line, ``cold flow run``: the instructions of a
whole ``lanner flow run`` of the 3-log-task flow (after one run that fills the
entry-point cache and compiles what is stale).

Not the light tasks: a ForEach of 1,000 tasks runs seconds under valgrind, and what
its timer and heartbeat threads do in that time depends on the machine again (two
counts of the same checkout differed by a third).

    .venv/bin/python -m bench.instructions [--before <checkout>] [--after <checkout>]

Each checkout needs its own ``.venv`` (``make install``). Slow (valgrind runs ~50x
slower): about half a minute per checkout. Without valgrind it says so and stops.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import FLOW3, REPO, compile_sources, emit, unavailable

_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions(cmd: list[str], env: dict[str, str], cwd: Path) -> int:
    """Instructions the command executed, all threads and children it does not exec counted."""
    out = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *cmd],
                         env=env, cwd=cwd, capture_output=True, text=True, check=False)
    found = _REFS.search(out.stderr)
    if found is None or out.returncode != 0:
        raise SystemExit(f"instructions: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def cold_run(tree: Path, work: Path) -> int:
    flow = work / "hello3.yaml"
    flow.write_text(FLOW3)
    lanner = str(tree / ".venv" / "bin" / "lanner")
    env = {**os.environ, "LANNER_HOME": str(work / "home-warmup")}
    subprocess.run([lanner, "flow", "run", str(flow)], env=env, capture_output=True, check=True)
    env["LANNER_HOME"] = str(work / "home")
    return instructions([lanner, "flow", "run", str(flow)], env, work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--before", type=Path, default=None, help="another checkout to count beside this one")
    parser.add_argument("--after", type=Path, default=REPO)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        unavailable("instructions", "valgrind is not installed (Debian: apt-get install valgrind)")
        return 0
    trees = {"before": args.before, "after": args.after} if args.before else {"after": args.after}
    for side, tree in trees.items():
        tree = tree.resolve()
        compile_sources(tree)
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            emit("instructions", "cold flow run", cold_run(tree, work), "instructions", side=side, tree=str(tree.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
