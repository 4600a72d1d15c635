"""The README story: one notebook defines a flow and is a step of it (notebook task, papermill)."""

from __future__ import annotations

import ast

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

FLOW_CELL = """%%flow --run --input region=apac
id: sales-report
namespace: company.sales
inputs:
  - id: region
    type: STRING
    defaults: emea
tasks:
  - id: report
    type: notebook
    notebook: sales_report.ipynb
    parameters:
      region: "{{ inputs.region }}"
  - id: announce
    type: log
    message: "{{ inputs.region }}: {{ outputs.report.vars.total }}"
"""


def test_a_notebook_that_defines_its_own_flow_runs_as_its_step(tmp_path, monkeypatch):
    nb = new_notebook(cells=[
        new_code_cell('region = "emea"', metadata={"tags": ["parameters"]}),
        new_code_cell("%load_ext builder.jupyter"),
        new_code_cell(FLOW_CELL),
        new_code_cell('import json\n'
                      'total = {"emea": 120, "apac": 80}.get(region, 0)\n'
                      'print("::" + json.dumps({"outputs": {"total": total}}) + "::")'),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "sales_report.ipynb")
    monkeypatch.setenv("LANNER_HOME", str(tmp_path / ".lanner"))
    monkeypatch.delenv("LANNER_NOTEBOOK_DIR", raising=False)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    result = [o for o in nb.cells[2].outputs if o.output_type == "execute_result"]
    assert result, nb.cells[2].outputs
    summary = ast.literal_eval(result[0].data["text/plain"])
    if summary["state"] != "SUCCESS":
        pytest.fail(f"the flow ended {summary['state']}: {summary}")
    runs = {r["taskId"]: r for r in summary["taskRuns"]}
    # The step ran this very notebook with region=apac...
    assert runs["report"]["outputs"]["vars"] == {"total": 80}
    # ...and there, the %%flow cell drew the flow without starting it again.
    from engine.runtime.local import LocalRunner

    with LocalRunner(home=tmp_path / ".lanner") as runner:
        messages = [line["message"] for line in runner.logs(summary["id"])]
        executions, total = runner.store.search_executions(namespace="company.sales")
    assert any("Not running company.sales.sales-report" in m for m in messages), messages
    assert "apac: 80" in messages
    assert total == 1
