"""`lanner flow validate` reads a notebook task's notebook: undeclared parameters and type mismatches, with lines."""

from __future__ import annotations

import subprocess
from pathlib import Path
from textwrap import dedent

from nbformat.v4 import new_code_cell

from tests.integration.test_notebook_task import params_cell, write_nb

FLOW = dedent("""\
    id: checked
    namespace: tests.notebooks
    inputs:
      - {id: region, type: SELECT, values: [north, south], defaults: north}
      - {id: amount, type: STRING, defaults: "5"}
      - {id: limit, type: INT, defaults: 3}
    tasks:
      - id: summary
        type: notebook
        notebook: nb/summary.ipynb
        parameters:
          region: "{{ inputs.region }}"
          min_ammount: 5
          min_amount: "{{ inputs.amount }}"
          data_path: 3
          ratio: "{{ inputs.limit }}"
          anything: [1, 2]
          rendered: "{{ inputs.region | upper }}"
      - id: elsewhere
        type: notebook
        notebook: nb/nowhere.ipynb
""")


def validate(lanner_cmd: list[str], env: dict[str, str], cwd: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*lanner_cmd, "flow", "validate", *map(str, files)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_validate_reports_undeclared_parameters_and_type_mismatches_with_lines(tmp_path, lanner_cmd, cli_env):
    (tmp_path / "nb").mkdir()
    write_nb(
        tmp_path / "nb" / "summary.ipynb",
        params_cell('%matplotlib inline\nregion = "all"  # or north, south\nmin_amount = 0\n'
                    'data_path = "data/sales.csv"\nratio: float = 0.5\nanything = None\nrendered = ""'),
        new_code_cell("print(region)"),
    )
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    res = validate(lanner_cmd, cli_env, tmp_path, flow)
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines == [
        f"{flow}: tasks[0].parameters.min_ammount: notebook nb/summary.ipynb does not declare a parameter "
        "'min_ammount' in its parameters cell; did you mean 'min_amount'? (line 13)",
        f"{flow}: tasks[0].parameters.min_amount: is a string but notebook nb/summary.ipynb declares "
        "min_amount = 0 (an int) (line 14)",
        f"{flow}: tasks[0].parameters.data_path: is an int but notebook nb/summary.ipynb declares "
        "data_path = 'data/sales.csv' (a string) (line 15)",
        f"{flow}: tasks[1].notebook: notebook 'nb/nowhere.ipynb' not found (looked beside the flow file and "
        "in the project directory) (line 21)",
    ], res.stdout


def test_the_example_notebook_flow_validates(repo_root, lanner_cmd, cli_env, tmp_path):
    # Run from elsewhere: the notebook is found beside the flow file, and its parameters match.
    res = validate(lanner_cmd, cli_env, tmp_path, repo_root / "flows" / "notebook_sales.yaml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().endswith("valid (examples.notebooks.notebook_sales)")
