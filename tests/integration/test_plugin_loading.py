"""Plugins found through entry points, good and broken, with distributions written into a temporary folder.

The registry's real discovery (``importlib.metadata`` over ``sys.path``) and
loading run against them; a broken plugin is reported by name and never stops
validation, the CLI or the server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.model import registry
from engine.model.validation import validate_text
from tests.integration.server_process import ServerProcess, lanner_exe
from tests.plugin_fixtures import GOOD_TASK, fake_distribution, on_sys_path

BROKEN = "broken-plugin"

BROKEN_MODULES = {
    "broken_plugin/__init__.py": "",
    "broken_plugin/missing.py": "import no_such_module_anywhere\n",
    "broken_plugin/leaves.py": "import sys\nsys.exit(3)\n",
    "broken_plugin/things.py": '''
        from engine.sdk import Condition, RunnableTask, TaskResult, Trigger, register_condition, register_task, register_trigger

        class NotATask:
            pass

        class Undecorated(RunnableTask):
            def run(self, ctx):
                return TaskResult()

        @register_task("broken.Other", group="Broken", title="Named otherwise")
        class Named(RunnableTask):
            def run(self, ctx):
                return TaskResult()

        @register_task("broken.NoRun", group="Broken", title="Nothing to run")
        class NoRun(RunnableTask):
            pass

        @register_trigger("broken.Plain", title="Not a polling trigger")
        class Plain(Trigger):
            pass

        @register_condition("broken.Untested", title="No test")
        class Untested(Condition):
            pass

        @register_task("broken.Fine", group="Broken", title="Works")
        class Fine(RunnableTask):
            def run(self, ctx):
                return TaskResult({"ok": True})
    ''',
}

BROKEN_ENTRY_POINTS = {
    "task": {
        "broken.Import": "broken_plugin.missing:Nope",
        "broken.Exit": "broken_plugin.leaves:Nope",
        "broken.NotATask": "broken_plugin.things:NotATask",
        "broken.Undecorated": "broken_plugin.things:Undecorated",
        "broken.WrongName": "broken_plugin.things:Named",
        "broken.NoRun": "broken_plugin.things:NoRun",
        "broken.Fine": "broken_plugin.things:Fine",
        "log": "broken_plugin.things:Fine",  # Lanner's own name: ignored
    },
    "trigger": {"broken.Plain": "broken_plugin.things:Plain"},
    "condition": {"broken.Untested": "broken_plugin.things:Untested"},
}

EXPECTED_ERRORS = {
    "broken.Import": "ModuleNotFoundError: No module named 'no_such_module_anywhere'",
    "broken.Exit": "SystemExit: 3",
    "broken.NotATask": "broken_plugin.things:NotATask is not a Task class",
    "broken.Undecorated": "Undecorated is not registered: decorate it with @register_task(...)",
    "broken.WrongName": "the entry point is named 'broken.WrongName' but Named registers 'broken.Other'",
    "broken.NoRun": "NoRun does not implement run(ctx)",
    "broken.Plain": "Plain must derive from PollingTrigger: it is what the scheduler knows how to evaluate",
    "broken.Untested": "Untested does not implement test(ctx)",
    "log": "type name 'log' is already provided by lanner; this one is ignored",
}


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    return fake_distribution(tmp_path / "site", BROKEN, "1.0", BROKEN_ENTRY_POINTS, BROKEN_MODULES)


@pytest.fixture
def demo_site(tmp_path: Path) -> Path:
    return fake_distribution(
        tmp_path / "demo-site", "demo-plugin", "2.3.4", {"task": {"demo.Echo": "demo_plugin.echo:Echo"}},
        {"demo_plugin/__init__.py": "", "demo_plugin/echo.py": GOOD_TASK},
    )


def test_a_plugin_type_validates_and_runs_with_its_decorator_aliases(demo_site: Path, runner: Any) -> None:
    with on_sys_path(demo_site, "demo_plugin"):
        flow = runner.deploy(
            "id: f\nnamespace: demo\ntasks:\n"
            "  - {id: a, type: demo.Echo, text: 'hi {{ flow.id }}'}\n"
            "  - {id: b, type: demo.LegacyEcho, text: again}\n"  # an alias only the class declares
        )
        ex = runner.start_execution(flow.namespace, flow.id, {})
        summary = runner.wait(ex, timeout=30)
        assert summary["state"] == "SUCCESS"
        assert [t["outputs"] for t in summary["taskRuns"]] == [{"text": "hi f"}, {"text": "again"}]
        (info,) = [p for p in registry.plugins() if p.name == "demo-plugin"]
        assert info.version == "2.3.4" and [t["type"] for t in info.types["task"]] == ["demo.Echo"]
        assert info.types["task"][0]["aliases"] == ["demo.LegacyEcho"]
    # Gone from sys.path: the type is gone too.
    assert registry.task_class("demo.Echo") is None


def test_broken_plugins_are_reported_by_name_and_the_rest_keeps_working(broken_site: Path) -> None:
    with on_sys_path(broken_site, "broken_plugin"):
        problems = {e.entry_point: e for e in registry.load_all() if e.plugin == BROKEN}
        assert {name: e.message for name, e in problems.items()} == EXPECTED_ERRORS
        assert str(problems["broken.Import"]).startswith(
            "plugin broken-plugin 1.0: lanner.tasks entry point 'broken.Import' (broken_plugin.missing:Nope): ModuleNotFoundError"
        )
        assert registry.resolve("task", "log").__module__ == "engine.tasks.log"  # the conflict did not replace Lanner's
        (info,) = [p for p in registry.plugins() if p.name == BROKEN]
        assert [t["type"] for t in info.types["task"]] == ["broken.Fine"]
        report = validate_text(
            "id: f\nnamespace: t\ntasks:\n  - {id: a, type: broken.Import}\n  - {id: b, type: broken.Fine}\n  - {id: c, type: log, message: hi}\n"
        )
        assert [str(e) for e in report.errors] == [
            "tasks[0].type: task type 'broken.Import' comes from plugin broken-plugin, which could not be loaded "
            "(ModuleNotFoundError: No module named 'no_such_module_anywhere'); fix or reinstall that plugin (line 4)"
        ]


def _cli(site: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_")}
    env.update(PYTHONPATH=str(site), LANNER_HOME=str(home), LANNER_PLUGIN_RECORD=str(home / "plugin-types.json"))
    return subprocess.run([*lanner_exe(), *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_the_cli_lists_broken_plugins_and_still_validates(broken_site: Path, demo_site: Path, tmp_path: Path) -> None:
    site = Path(str(broken_site) + os.pathsep + str(demo_site))
    listed = _cli(site, "plugins", "list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout
    own = re.match(r"lanner 0\.1\.0  \(Lanner's own types\)\n  tasks \(\d+\): (.*)\n", text)
    assert own is not None and {"log", "return", "output_values"} <= set(own.group(1).split(", ")), text[:300]
    assert f"{BROKEN} 1.0\n  tasks (1): broken.Fine\n" in text
    assert "demo-plugin 2.3.4\n  tasks (1): demo.Echo\n" in text
    for name, message in EXPECTED_ERRORS.items():
        assert f"entry point '{name}' (" in text and message in text, name
    flow = tmp_path / "f.yaml"
    flow.write_text("id: f\nnamespace: t\ntasks:\n  - {id: a, type: demo.Echo, text: hi}\n  - {id: b, type: broken.Exit}\n")
    done = _cli(site, "flow", "validate", str(flow), home=tmp_path)
    assert done.returncode == 1
    assert done.stdout == (
        f"{flow}: tasks[1].type: task type 'broken.Exit' comes from plugin broken-plugin, which could not be loaded "
        "(SystemExit: 3); fix or reinstall that plugin (line 5)\n"
    )


def test_the_server_starts_with_a_broken_plugin_and_names_it(broken_site: Path, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={"PYTHONPATH": str(broken_site), "LANNER_PLUGIN_RECORD": str(tmp_path / "record.json")})
    (server.flows / "ok.yaml").write_text("id: ok\nnamespace: t\ntasks:\n  - {id: a, type: broken.Fine}\n")
    server.start()
    try:
        assert httpx.get(server.base + "/health", timeout=30).json()["status"] == "UP"
        plugins = {p["name"]: p for p in httpx.get(server.base + "/api/v1/plugins", timeout=30).json()}
        errors = {e["entryPoint"]: e["message"] for e in plugins[BROKEN]["errors"]}
        assert errors == EXPECTED_ERRORS
        assert [t["type"] for t in plugins[BROKEN]["tasks"]] == ["broken.Fine"]
        ran = httpx.post(server.base + "/api/v1/executions/t/ok", params={"wait": "true"}, timeout=60).json()
        assert ran["state"] == "SUCCESS" and ran["taskRuns"][0]["outputs"] == {"ok": True}
    finally:
        server.stop()
    log = server.log()
    assert "WARNING lanner.server: plugin broken-plugin 1.0: lanner.tasks entry point 'broken.Import' (broken_plugin.missing:Nope): " \
           "ModuleNotFoundError: No module named 'no_such_module_anywhere'; its types are unavailable" in log


def test_the_plugin_record_names_a_plugin_that_is_gone(demo_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "record" / "plugin-types.json"
    monkeypatch.setenv("LANNER_PLUGIN_RECORD", str(record))
    with on_sys_path(demo_site, "demo_plugin"):
        assert registry.task_class("demo.Echo") is not None
    assert json.loads(record.read_text())["task"]["demo.Echo"] == ["demo-plugin", "2.3.4"]
    assert registry.unknown_message("task", "demo.Echo") == (
        "task type 'demo.Echo' is not installed; it came from plugin demo-plugin 2.3.4: "
        "install it again (pip install demo-plugin) or change the type"
    )


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    return set(done.stdout.split())


def test_reading_a_flow_imports_only_the_types_it_uses() -> None:
    loaded = _modules_after(
        "from engine.model.validation import load_flow\n"
        "load_flow('id: f\\nnamespace: t\\ntasks:\\n  - {id: a, type: log, message: hi}\\n"
        "  - {id: b, type: io.kestra.plugin.core.debug.Return, format: x}\\n"
        "triggers:\\n  - {id: w, type: webhook, key: a-long-enough-key}\\n')"
    )
    assert {"engine.tasks.log", "engine.tasks.core", "engine.triggers.webhook"} <= loaded
    unused = {"engine.tasks.http", "engine.tasks.notebook", "engine.tasks.scripts", "engine.tasks.flow",
              "engine.triggers.schedule", "engine.triggers.conditions", "httpx", "croniter", "fsspec"}
    assert not unused & loaded, unused & loaded
    # The SDK leaves process and storage machinery to the tasks that use them.
    assert not {"engine.storage", "engine.runtime.process"} & _modules_after("import engine.sdk")


def test_a_flow_of_log_tasks_builds_no_other_core_task_type() -> None:
    loaded = _modules_after(
        "from engine.model.validation import load_flow\n"
        "load_flow('id: f\\nnamespace: t\\ntasks:\\n  - {id: a, type: log, message: hi}\\n')"
    )
    assert "engine.tasks.log" in loaded
    assert "engine.tasks.core" not in loaded  # return, output_values, fail, sleep: built when a flow uses one
