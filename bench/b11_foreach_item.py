"""B11 ForEachItem: a file of N lines in batches of B lines, one subflow execution per batch.

Each subflow reads its batch and returns its line count as a flow output;
ForEachItem merges the outputs into one file, which the benchmark reads back
to check that every line was seen once. Each size runs in its own process
(``--child``) so the peak RSS is that size's own: with at most 100 batches
running at once and the file split line by line, memory stays flat whether
there are 10 or 1,000 batches. The floor is plain Python doing the same work
in files: splitting the file into the batch files and counting their lines.

    .venv/bin/python -m bench.b11_foreach_item [--runs 100000:1000,100000:100] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, emit, peak_rss_mb

SUBFLOW = """
id: count-batch
namespace: bench.items
inputs:
  - {id: items, type: STRING}
tasks:
  - id: count
    type: return
    format: "{{ read(inputs.items) | trim | split('\\\\n') | length }}"
outputs:
  - {id: lines, type: INT, value: "{{ outputs.count.value }}"}
"""

PARENT = """
id: items-{lines}-{batch}
namespace: bench.items
inputs:
  - {{id: file, type: FILE}}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ inputs.file }}}}"
    batch: {{rows: {batch}}}
    namespace: bench.items
    flowId: count-batch
    inputs:
      items: "{{{{ taskrun.items }}}}"
"""


def items_file(directory: Path, lines: int) -> Path:
    path = directory / f"items-{lines}.txt"
    with path.open("w") as fh:
        for i in range(lines):
            fh.write(f"{i:>20}\n")
    return path


def child(lines: int, batch: int) -> dict:
    """Run the flow once in this process; return raw figures."""
    from engine.runtime.local import LocalRunner

    with tempfile.TemporaryDirectory() as home:
        source = items_file(Path(home), lines)
        with LocalRunner(Path(home) / "lanner") as runner:
            runner.deploy(SUBFLOW)
            flow = runner.deploy(PARENT.format(lines=lines, batch=batch))
            started = time.perf_counter()
            summary = runner.wait(runner.start_execution(flow.namespace, flow.id, {"file": str(source)}), timeout=3600)
            wall = time.perf_counter() - started
            outputs = next(tr for tr in summary["taskRuns"] if tr["taskId"] == "each")["outputs"]
            merged = runner.storage.read_text(outputs["uri"], namespace="bench.items", max_bytes=None) if outputs.get("uri") else ""
    counted = sum(int(line.split(":")[1].rstrip("}")) for line in merged.splitlines() if line.strip())
    return {
        "lines": lines,
        "batch": batch,
        "state": summary["state"],
        "batches": outputs.get("numberOfBatches"),
        "iterations": outputs.get("iterations"),
        "counted": counted,
        "wall_s": wall,
        "rss_mb": peak_rss_mb(),
    }


def run_child(lines: int, batch: int, timeout: float = 1800) -> dict:
    cmd = [sys.executable, "-m", "bench.b11_foreach_item", "--child", f"{lines}:{batch}"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode != 0:
        raise RuntimeError(f"B11 child {lines}:{batch} failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor(lines: int, batch: int) -> float:
    """Plain Python: cut the file into batch files, then count the lines of each."""
    with tempfile.TemporaryDirectory() as d:
        source = items_file(Path(d), lines)
        started = time.perf_counter()
        parts: list[Path] = []
        out = None
        with source.open("rb") as src:
            for i, line in enumerate(src):
                if i % batch == 0:
                    if out is not None:
                        out.close()
                    parts.append(Path(d) / f"part-{len(parts)}.txt")
                    out = parts[-1].open("wb")
                out.write(line)
        if out is not None:
            out.close()
        total = sum(len(p.read_text().splitlines()) for p in parts)
        assert total == lines
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="B11 ForEachItem")
    parser.add_argument("--runs", default="10000:1000,100000:1000,100000:100", help="lines:batch, comma-separated")
    parser.add_argument("--child", default="")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    if args.child:
        lines, batch = (int(x) for x in args.child.split(":"))
        print(json.dumps(child(lines, batch)))
        return 0
    runs = [tuple(int(x) for x in spec.split(":")) for spec in args.runs.split(",") if spec.strip()]
    results: dict[tuple[int, int], list[dict]] = {r: [] for r in runs}
    for _ in range(max(1, args.repeat)):
        for lines, batch in runs:
            r = run_child(lines, batch)
            if r["state"] != "SUCCESS" or r["counted"] != lines:
                raise SystemExit(f"B11 {lines}:{batch}: execution ended {r['state']}, its batches counted {r['counted']} lines")
            results[(lines, batch)].append(r)
    rss: dict[tuple[int, int], float] = {}
    for (lines, batch), found in results.items():
        wall = statistics.median(x["wall_s"] for x in found)
        peak = statistics.median(x["rss_mb"] for x in found)
        rss[(lines, batch)] = peak
        batches = found[0]["batches"]
        target = lines >= 100_000 and batch == 1000
        emit("B11", f"ForEachItem {lines} lines / {batch}: wall", wall, "s", floor=floor(lines, batch),
             runs=[round(x["wall_s"], 2) for x in found], note=f"{batches} subflow executions, floor: plain Python split and count")
        emit("B11", f"ForEachItem {lines} lines / {batch}: per batch", wall / batches * 1000, "ms")
        emit("B11", f"ForEachItem {lines} lines / {batch}: peak RSS", peak, "MB",
             target="< 300" if target else None, ok=(peak < 300) if target else None)
    if len(rss) >= 2:
        low, high = min(rss.values()), max(rss.values())
        emit("B11", "peak RSS, most batches vs fewest", high / low, "x", target="< 1.5 (flat)", ok=high / low < 1.5,
             note=", ".join(f"{lines}/{batch}: {mb:.0f} MB" for (lines, batch), mb in rss.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
