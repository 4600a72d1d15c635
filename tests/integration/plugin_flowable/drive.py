"""Run in a fresh interpreter: the plugin registers before the registry finalizes, as a plugin does."""

from __future__ import annotations

import json
import sys
import tempfile
from textwrap import dedent

import acme_flowable  # noqa: F401 - registers com.acme.FirstSuccess

from builder import topology
from builder.canvas import flow_edit, palette
from builder.forms import field_specs
from engine.model import registry
from engine.model.schema import task_json_schema
from engine.model.validation import validate_text
from engine.runtime.local import LocalRunner

FLOW = dedent("""
    id: plugin-flow
    namespace: acme.test
    tasks:
      - id: pick
        type: com.acme.FirstSuccess
        candidates:
          - {id: first, type: fail, message: nope}
          - {id: second, type: return, format: "{{ 'ok' }}"}
          - {id: third, type: log, message: never}
      - id: after
        type: return
        format: "{{ outputs.second.value }}"
      - id: none_work
        type: com.acme.FirstSuccess
        allowFailure: true
        candidates:
          - {id: bad1, type: fail, message: one}
        onAllFailed:
          - {id: cleanup, type: log, message: all failed}
""")

BROKEN = dedent("""
    id: broken
    namespace: acme.test
    tasks:
      - id: pick
        type: com.acme.FirstSuccess
        candidates:
          - {id: dup, type: log, message: "{{ outputs.nowhere.value }}"}
        onAllFailed:
          - {id: dup, type: log, message: x}
""")

out: dict = {}
report = validate_text(BROKEN)
out["broken_errors"] = [str(e) for e in report.errors]
with tempfile.TemporaryDirectory() as home, LocalRunner(home, workers=2) as runner:
    summary = runner.run(FLOW, timeout=60)
out["state"] = summary["state"]
out["runs"] = {tr["taskId"]: tr["state"] for tr in summary["taskRuns"]}
out["after"] = next(tr["outputs"] for tr in summary["taskRuns"] if tr["taskId"] == "after")

data = {"id": "f", "namespace": "acme.test", "tasks": [
    {"id": "pick", "type": "com.acme.FirstSuccess", "candidates": [{"id": "a", "type": "log", "message": "a"}]},
]}
out["kind"] = flow_edit.container_kind("com.acme.FirstSuccess")
out["keys"] = flow_edit.child_list_keys(data["tasks"][0])
edited = flow_edit.insert_task(data, ["tasks", 0, "onAllFailed", 0], {"id": "b", "type": "log", "message": "b"})
out["ids_after_insert"] = flow_edit.all_ids(edited)
out["after_delete"] = flow_edit.delete_task(edited, ["tasks", 0, "onAllFailed", 0])["tasks"][0]
out["spec"] = flow_edit.container_spec()["lists"].get("acme_first_success")
out["spec_name"] = flow_edit.container_spec()["names"].get("com.acme.FirstSuccess")
layout = topology.layout_flow(edited).to_dict()
out["layout"] = [(n["kind"], n["label"], n["branch"]) for n in layout["nodes"]]
schema = task_json_schema("com.acme.FirstSuccess")
out["child_lists_in_schema"] = [c["name"] for c in schema["x-lanner"]["childLists"]]
out["form_fields"] = [s.name for s in field_specs(schema, "acme_first_success")]
out["palette"] = next(e["container"] for e in palette.palette_items() if e["type"] == "acme_first_success")
out["registry"] = [c.name for c in registry.child_lists_of("com.acme.FirstSuccess")]
json.dump(out, sys.stdout)
