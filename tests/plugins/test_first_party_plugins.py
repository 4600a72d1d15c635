"""Lanner's first-party plugins (plugins/jdbc, serdes, dbt): SDK-only imports, entry points, palette, schema, docs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = {"jdbc": "lanner_jdbc", "serdes": "lanner_serdes", "dbt": "lanner_dbt"}


@pytest.mark.parametrize("name", PLUGINS)
def test_a_plugin_imports_only_the_sdk_of_lanner(name):
    for path in (ROOT / "plugins" / name / PLUGINS[name]).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            for module in modules:
                if module.split(".")[0] in ("engine", "builder"):
                    assert module == "engine.sdk", f"{path.relative_to(ROOT)} imports {module}: plugins import engine.sdk only"


@pytest.mark.parametrize("name", PLUGINS)
def test_every_entry_point_names_a_type_registered_under_that_name(name):
    from engine.model import registry

    meta = tomllib.loads((ROOT / "plugins" / name / "pyproject.toml").read_text())
    groups = meta["project"]["entry-points"]
    assert meta["project"]["dependencies"][0] == "lanner"
    for group, kind in (("lanner.tasks", "task"), ("lanner.triggers", "trigger")):
        for type_name, target in groups.get(group, {}).items():
            module, _, attr = target.partition(":")
            cls = getattr(__import__(module, fromlist=[attr]), attr)
            assert type_name in (cls.canonical, *cls.aliases), f"{type_name} -> {target} registers {cls.canonical}"
            assert registry.lookup(kind, type_name) is cls
            assert cls.title and cls.icon and cls.summary, f"{type_name} needs a title, an icon and a summary for the palette"


def test_plugins_list_schema_palette_and_readme_show_the_types(lanner_cmd, cli_env):
    out = subprocess.run([*lanner_cmd, "plugins", "list", "--json"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert {t["type"] for t in plugins["lanner-plugin-jdbc"]["triggers"]} >= {"io.kestra.plugin.jdbc.postgresql.Trigger"}
    assert len(plugins["lanner-plugin-serdes"]["tasks"]) == 9 and not plugins["lanner-plugin-serdes"]["errors"]
    assert "io.kestra.plugin.dbt.cli.DbtCLI" in {t["type"] for t in plugins["lanner-plugin-dbt"]["tasks"]}

    from builder.canvas.palette import palette_items
    from engine.model.schema import flow_json_schema

    schema_text = json.dumps(flow_json_schema())
    for type_name in ("io.kestra.plugin.jdbc.duckdb.Query", "io.kestra.plugin.serdes.csv.CsvToIon", "io.kestra.plugin.dbt.cli.DbtCLI"):
        assert type_name in schema_text
    sections = {e["type"]: e["section"] for e in palette_items()}
    assert sections["io.kestra.plugin.jdbc.postgresql.Queries"] == "lanner-plugin-jdbc"
    assert sections["io.kestra.plugin.serdes.excel.IonToExcel"] == "lanner-plugin-serdes"
    readme = (ROOT / "README.md").read_text()
    for type_name in ("io.kestra.plugin.jdbc.mysql.Query", "io.kestra.plugin.serdes.parquet.IonToParquet", "io.kestra.plugin.dbt.cli.DbtCLI"):
        assert type_name in readme, f"{type_name} is missing from README's task table: run make docs"
    assert sys.executable  # the plugins run in this interpreter's environment
