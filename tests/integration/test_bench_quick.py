"""The quick benchmark (make bench-quick) runs, and its regression check bites.

The check compares per-task overhead as a ratio to a plain-Python floor
measured in the same run, so a busy CI machine slows both sides; it fails when
the ratio grows more than 3x over bench/baseline.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_bench_quick_passes_against_baseline_and_fails_on_a_regression(tmp_path: Path) -> None:
    results = tmp_path / "quick.json"
    run = _run("--quick", "--results", str(results), timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no regression against baseline.json" in run.stdout

    figures = {f"{r['bench']} {r['metric']}": r for r in json.loads(results.read_text())["figures"]}
    b2 = figures["B2 per-task overhead"]
    assert b2["unit"] == "ms" and b2["value"] > 0 and b2["floor"] > 0
    assert b2["ratio"] > 1  # the engine costs more than writing rows by hand
    b3 = figures["B3 ForEach 1000: per task run"]
    assert b3["value"] > 0 and b3["floor"] > 0
    assert figures["B3 executor step 5000 vs 1000"]["ok"] is True, "the gated flatness ratio is measured and met"
    assert figures["B8 python task, fork server: per task"]["floor"] > 0
    assert figures["B1 lanner flow run CPU"]["floor"] > 0
    machine = json.loads(results.read_text())["machine"]
    assert machine["date"] and machine["load_before"] and machine["cores"], "figures carry the date, machine and load"
    assert f"load average {machine['load_before']}" in run.stdout

    baseline = json.loads((REPO / "bench" / "baseline.json").read_text())["ratios"]
    # A baseline 10x better than this run: the same figures are now a regression.
    tight = tmp_path / "tight.json"
    tight.write_text(json.dumps({"ratios": {k: figures[k]["ratio"] / 10 for k in baseline}}))
    again = _run("--from", str(results), "--check", str(tight))
    assert again.returncode == 1
    assert "REGRESSION B2 per-task overhead" in again.stdout

    # Within 3x of the baseline passes.
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps({"ratios": {k: figures[k]["ratio"] / 2.5 for k in baseline}}))
    ok = _run("--from", str(results), "--check", str(loose))
    assert ok.returncode == 0, ok.stdout


def test_instruction_counts_are_what_a_noisy_machine_does_not_move(tmp_path: Path) -> None:
    """bench.instructions counts with valgrind: the same command twice gives the same count within a fraction of
    a percent (times on this machine move by tens of percent), and more work counts more."""
    import os
    import shutil

    import pytest

    from bench.instructions import instructions

    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed: bench.instructions says so and stops")
    env = dict(os.environ)
    bare = [instructions([sys.executable, "-c", "pass"], env, tmp_path) for _ in range(2)]
    busy = instructions([sys.executable, "-c", "sum(range(300000))"], env, tmp_path)
    assert bare[0] > 10_000_000
    assert abs(bare[0] - bare[1]) / bare[0] < 0.01, bare
    assert busy > bare[0] * 1.05, (busy, bare)
