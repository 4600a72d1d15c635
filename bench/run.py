"""Run the benchmarks, print a table, save the figures under bench/results/.

Each benchmark runs in its own process (so memory figures are its own) and
prints its figures as JSON lines; this collects them, prints them as they come
and as a table at the end, and writes ``bench/results/<date>-<cores>cpu.json``
with the machine's core count and Python version.

    .venv/bin/python -m bench.run            # everything (make bench)
    .venv/bin/python -m bench.run --quick    # B1, B2, B3, B8 small + regression check (make bench-quick)
    .venv/bin/python -m bench.run --only B2,B3
    .venv/bin/python -m bench.run --only B8  # expression rendering, per property
    .venv/bin/python -m bench.run --quick --save-baseline   # write bench/baseline.json

``--check FILE`` (default with ``--quick``: bench/baseline.json) fails with
exit 1 when a per-task overhead, as a ratio to its plain-Python floor measured
in the same run, is more than ``--tolerance`` (3) times its baseline ratio, or
when a GATED figure (the executor's step cost in an execution of 5,000 task
runs against one of 1,000, run side by side in one process) misses its target. Every result carries the date, the machine (processor,
cores, memory, kernel, Python) and the load average before and after the run;
``--markdown`` prints README's table with that header.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import REPO, load_average, machine

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
BASELINE = BENCH_DIR / "baseline.json"

# name -> (module, full arguments, quick arguments or None, timeout seconds)
SUITE: dict[str, tuple[str, list[str], list[str] | None, float]] = {
    "B1": ("bench.b1_cold_start", ["--repeat", "7", "--server-repeat", "5"], ["--repeat", "3", "--server-repeat", "1"], 300),
    "B2": ("bench.b2_throughput", ["--n", "1000", "--repeat", "3"], ["--n", "1000", "--repeat", "2", "--full-n", "0", "--no-batched"], 300),
    "B3": ("bench.b3_fanout", ["--sizes", "1000,10000,100000", "--repeat", "3"], ["--sizes", "1000,5000", "--repeat", "2", "--flat-limit", "1.3"], 1800),
    "B4": ("bench.b4_latency", ["--n", "500"], None, 240),
    "B5": ("bench.b5_api", ["--rows", "100000"], None, 300),
    "B6": ("bench.b6_dask", ["--n", "100"], None, 300),
    "B7": ("bench.b7_ui", [], None, 240),
    "B8": ("bench.b8_python_tasks", ["--n", "1000", "--repeat", "3", "--fresh"], ["--n", "200", "--repeat", "1"], 1800),
    "B9": ("bench.b9_render", ["--n", "20000"], None, 240),
    "B10": ("bench.b10_csv_to_ion", ["--mb", "1024"], None, 1800),
    "B12": ("bench.b12_dashboard", ["--sizes", "30,1000", "--repeat", "3"], None, 400),
    "B11": ("bench.b11_foreach_item", ["--runs", "10000:1000,100000:1000,100000:100", "--repeat", "3"], None, 1800),
}
QUICK = ["B1", "B2", "B3", "B8"]

# Figures the regression check compares (ratio to the floor of the same run).
CHECKED = [
    "B1 lanner flow run CPU",
    "B2 per-task overhead",
    "B3 ForEach 1000: per task run",
    "B8 python task, fork server: per task",
]
# Figures whose own target is a gate of the quick run (ratios that must stay flat whatever the machine).
GATED = ["B3 executor step 5000 vs 1000"]


def run_one(name: str, quick: bool) -> list[dict[str, Any]]:
    module, full, quick_args, timeout = SUITE[name]
    args = quick_args if quick and quick_args is not None else full
    cmd = [sys.executable, "-m", module, *args]
    rows: list[dict[str, Any]] = []
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    print(line, file=sys.stderr)
                    continue
                rows.append(row)
                print(line, flush=True)
            elif line:
                print(line, file=sys.stderr)
        code = proc.wait(timeout=max(1.0, timeout - (time.perf_counter() - start)))
    except subprocess.TimeoutExpired:
        proc.kill()
        code = -1
        rows.append({"bench": name, "metric": "run", "value": None, "unit": "", "status": "failed", "note": f"timed out after {timeout:.0f} s"})
    if code != 0 and not any(r.get("status") for r in rows):
        rows.append({"bench": name, "metric": "run", "value": None, "unit": "", "status": "failed", "note": f"exit code {code}"})
    for r in rows:
        r.setdefault("seconds", round(time.perf_counter() - start, 1))
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = ["bench", "figure", "value", "floor", "ratio", "target", "met"]
    lines = [head]
    for r in rows:
        value = r.get("value")
        shown = r.get("status") or ("" if value is None else f"{value} {r.get('unit', '')}".strip())
        floor = r.get("floor")
        ok = r.get("ok")
        lines.append([
            r["bench"],
            r["metric"] if not r.get("note") or value is not None else f"{r['metric']}: {r['note']}",
            shown,
            "" if floor is None else f"{floor} {r.get('unit', '')}".strip(),
            "" if r.get("ratio") is None else f"{r['ratio']}",
            r.get("target", ""),
            "" if ok is None else ("yes" if ok else "NO"),
        ])
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = []
    for i, line in enumerate(lines):
        out.append(" | ".join(str(c).ljust(widths[j]) for j, c in enumerate(line)).rstrip())
        if i == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def ratios(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {f"{r['bench']} {r['metric']}": r["ratio"] for r in rows if r.get("ratio") is not None and f"{r['bench']} {r['metric']}" in CHECKED}


def check(rows: list[dict[str, Any]], baseline: Path, tolerance: float) -> list[str]:
    """Regressions: figures whose ratio to the floor grew more than ``tolerance`` times."""
    if not baseline.is_file():
        return [f"baseline {baseline} does not exist; write it with --quick --save-baseline"]
    saved = json.loads(baseline.read_text())["ratios"]
    now = ratios(rows)
    problems = []
    for key, base in saved.items():
        if key not in now:
            problems.append(f"{key}: not measured in this run")
        elif now[key] > base * tolerance:
            problems.append(f"{key}: {now[key]:.3g}x the floor, baseline {base:.3g}x (limit {base * tolerance:.3g}x)")
    return problems


def gates(rows: list[dict[str, Any]]) -> list[str]:
    """GATED figures that missed their own target in this run."""
    return [f"{r['bench']} {r['metric']}: {r['value']}{r.get('unit', '')}, target {r.get('target')}"
            for r in rows if f"{r['bench']} {r['metric']}" in GATED and r.get("ok") is False]


def header(info: dict[str, Any]) -> str:
    """When and where the figures were measured: they mean little without it."""
    load = info.get("load_before") or info.get("load1")
    after = f" (after: {info['load_after']})" if info.get("load_after") else ""
    cpu = f"{info.get('cpu')}, " if info.get("cpu") else ""
    memory = f", {info['memory_gb']} GB" if info.get("memory_gb") else ""
    return (f"Lanner benchmarks, {info.get('date', '?')}: {cpu}{info['cores']} cores{memory}, {info.get('platform', '')}, "
            f"Python {info['python']}; load average {load}{after}; {info['seconds']} s")


def markdown(rows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    """The figures as README's table, headed by the date, the machine and the load average."""
    lines = [f"_{header(info)}_", "", "| bench | figure | value | floor | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        value = r.get("value")
        shown = r.get("status") or ("" if value is None else f"{value} {r.get('unit', '')}".strip())
        floor = "" if r.get("floor") is None else f"{r['floor']} {r.get('unit', '')}".strip()
        met = "" if r.get("ok") is None else ("yes" if r["ok"] else "**no**")
        lines.append(f"| {r['bench']} | {r['metric']} | {shown} | {floor} | {r.get('ratio', '')} | {r.get('target', '')} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lanner benchmarks")
    parser.add_argument("--quick", action="store_true", help="B1, B2, B3 and B8 at small sizes and the regression check")
    parser.add_argument("--only", default="", help="comma-separated benchmarks, e.g. B2,B3")
    parser.add_argument("--check", type=Path, default=None, help="baseline file to compare with")
    parser.add_argument("--tolerance", type=float, default=3.0)
    parser.add_argument("--save-baseline", action="store_true")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    parser.add_argument("--results", type=Path, default=None, help="write the figures to this file instead of bench/results/")
    parser.add_argument("--from", dest="from_file", type=Path, default=None, help="do not run: read figures saved by an earlier run")
    parser.add_argument("--markdown", action="store_true", help="also print the figures as a Markdown table (README)")
    args = parser.parse_args(argv)
    names = [n.strip().upper() for n in args.only.split(",") if n.strip()] or (QUICK if args.quick else list(SUITE))
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        parser.error(f"--only: unknown benchmark {', '.join(unknown)} (known: {', '.join(SUITE)})")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if args.from_file is not None:
        saved = json.loads(args.from_file.read_text())
        rows, info = saved["figures"], saved["machine"]
    else:
        load_before = load_average()
        for name in names:
            print(f"--- {name}", file=sys.stderr, flush=True)
            rows.extend(run_one(name, args.quick))
        info = {**machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick,
                "seconds": round(time.perf_counter() - started, 1), "load_before": load_before, "load_after": load_average()}
    print()
    print(header(info))
    print(table(rows))
    if args.markdown:
        print()
        print(markdown(rows, info))
    if args.from_file is None and (args.results is not None or not args.no_save):
        if args.results is not None:
            path = args.results
        else:
            RESULTS.mkdir(exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            path = RESULTS / f"{stamp}-{info['cores']}cpu{'-quick' if args.quick else ''}.json"
        path.write_text(json.dumps({"machine": info, "figures": rows}, indent=1) + "\n")
        print(f"saved {path}")
    if args.save_baseline:
        BASELINE.write_text(json.dumps({"machine": info, "tolerance": args.tolerance, "ratios": ratios(rows)}, indent=1) + "\n")
        print(f"saved {BASELINE}")
    failed = [r for r in rows if r.get("status") == "failed"]
    baseline = args.check or (BASELINE if args.quick and not args.save_baseline else None)
    if baseline is not None:
        problems = check(rows, baseline, args.tolerance) + gates(rows)
        for p in problems:
            print(f"REGRESSION {p}")
        if problems:
            return 1
        print(f"no regression against {baseline.name} (tolerance {args.tolerance:g}x)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
