"""A flowable type from a plugin runs, validates and shows in the builder with no change to Lanner.

The plugin (``plugin_flowable/acme_flowable.py``) registers ``com.acme.FirstSuccess``
in a fresh interpreter before the registry finalizes, the way a plugin loaded at
start does; its child lists (``candidates``, ``onAllFailed``) have names no
built-in type uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent / "plugin_flowable"
ROOT = Path(__file__).resolve().parents[2]


def test_a_plugin_flowable_type_works_in_executor_validation_and_builder(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]), "LANNER_HOME": str(tmp_path)}
    env.pop("LANNER_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, str(HERE / "drive.py")], capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)

    # The executor resolves it through its own advance(): first fails, second succeeds, third never starts.
    assert out["state"] == "WARNING", out
    assert out["runs"] == {"pick": "SUCCESS", "first": "FAILED", "second": "SUCCESS", "after": "SUCCESS",
                           "none_work": "WARNING", "bad1": "FAILED", "cleanup": "SUCCESS"}, out["runs"]
    assert out["after"] == {"value": "ok"}

    # Validation walks its child lists: duplicate ids and bad references inside them are found.
    assert any("duplicate task id 'dup'" in e and "onAllFailed[0]" in e for e in out["broken_errors"]), out["broken_errors"]
    assert any("tasks[0].candidates[0].message" in e and "outputs.nowhere" in e for e in out["broken_errors"]), out["broken_errors"]

    # The builder reads the same declaration from the registry.
    assert out["kind"] == "acme_first_success" and out["spec_name"] == "acme_first_success"
    assert out["keys"] == [["candidates"], ["onAllFailed"], ["errors"], ["finally"]]
    assert out["ids_after_insert"] == ["pick", "a", "b"]
    assert "onAllFailed" not in out["after_delete"], "an optional list emptied by an edit is removed"
    assert [c["name"] for c in out["spec"]] == ["candidates", "onAllFailed"]
    assert ["container", "pick", "tasks"] in out["layout"] and ["branch-label", "all failed", "onAllFailed"] in out["layout"]
    assert ["task", "b", "onAllFailed"] in out["layout"] and ["task", "a", "candidates"] in out["layout"]
    assert out["child_lists_in_schema"] == ["candidates", "onAllFailed", "errors", "finally"]
    assert "candidates" not in out["form_fields"] and "onAllFailed" not in out["form_fields"]
    assert "allowFailure" in out["form_fields"]
    assert out["palette"] == "acme_first_success"
    assert out["registry"] == ["candidates", "onAllFailed", "errors", "finally"]
