"""The runner's garbage-collector settings (engine.runtime.collector), each in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys, tempfile
if sys.argv[1] == "own":
    gc.set_threshold(1234, 5, 5)
before = gc.get_freeze_count()
from engine.runtime.local import LocalRunner
with tempfile.TemporaryDirectory() as home:
    with LocalRunner(home) as runner:
        summary = runner.run("id: c\\nnamespace: t\\ntasks:\\n  - id: a\\n    type: return\\n    format: '{{ 1 + 1 }}'\\n", timeout=60)
    with LocalRunner(home) as again:
        pass
print(json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count(), "before": before, "state": summary["state"]}))
"""


def probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_runner_freezes_the_start_up_heap_and_collects_young_objects_less_often() -> None:
    found = probe("default")
    assert found["state"] == "SUCCESS"
    assert found["threshold"] == [5000, 10, 10]
    assert found["frozen"] > found["before"] + 10_000  # modules, classes, task models


def test_thresholds_a_program_set_itself_are_kept() -> None:
    found = probe("own")
    assert found["state"] == "SUCCESS"
    assert found["threshold"] == [1234, 5, 5] and found["frozen"] == found["before"]
