"""DbtCLI with dbt-duckdb on a small project: a failing data test fails the task, with per-node results and logs.

The passing path (seed, model, tests: SUCCESS) is flows/dbt_duckdb_sales.yaml, run by tests/integration/test_example_flows.py.
"""

from __future__ import annotations

import json

PROJECT = {
    "dbt_project.yml": "name: shop\nversion: '1.0'\nprofile: shop\n",
    "models/orders.sql": "select 1 as id, 'pen' as item union all select 1, 'ink'",
    "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        tests: [unique]\n",
}


def test_a_failing_dbt_test_fails_the_task_with_each_nodes_result(flow, tmp_path):
    project = tmp_path / "shop"
    for name, text in PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    s = flow(f"""
        id: dbt-fail
        namespace: tests.dbt
        tasks:
          - id: build
            type: io.kestra.plugin.dbt.cli.DbtCLI
            beforeCommands:
              - cp -r {project} shop
            projectDir: shop
            profiles: |
              shop:
                target: dev
                outputs:
                  dev: {{type: duckdb, path: shop.duckdb, threads: 1}}
            commands:
              - dbt build --profiles-dir .
    """, timeout=240)
    tr = flow.task(s, "build")
    assert tr["state"] == "FAILED"
    outputs = tr["outputs"]
    assert outputs["exitCode"] == 1
    status = {r["uniqueId"].split(".")[1] + "." + r["uniqueId"].split(".")[2]: r["status"] for r in outputs["results"]}
    assert status["shop.orders"] == "success" and status["shop.unique_orders_id"] == "fail"
    assert set(outputs["outputFiles"]) == {"manifest.json", "run_results.json"}
    run_results = json.loads(flow.file(outputs["outputFiles"]["run_results.json"]).read_text())
    assert len(run_results["results"]) == 2
    logs = flow.logs(s, "build")
    assert any(log["level"] == "ERROR" and log["message"].startswith("test.shop.unique_orders_id") and "(1 failure)" in log["message"]
               for log in logs)
    assert any(log["level"] == "ERROR" and "dbt ended with exit code 1: test.shop.unique_orders_id" in log["message"] for log in logs)
    assert not any("\x1b[" in log["message"] for log in logs)  # no terminal colours in the logs
