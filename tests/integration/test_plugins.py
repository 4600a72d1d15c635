"""A plugin that lives outside Lanner's package, installed into this environment with uv (or pip).

``tests/fixtures/plugins/lanner-plugin-example`` is a distribution with its own
``pyproject.toml``: a task (``acme.Hello``), a polling trigger (``acme.Tick``) and
a condition (``acme.Parity``). Each test makes sure it is installed (built from a
copy of the folder, so the repository stays clean); the CLI, the server, the API,
the JSON Schema and the palette all run in subprocesses that discover it through
its entry points. The last test uninstalls it and checks what flows that still
use it are told. The module's teardown uninstalls it whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server_process import ServerProcess, lanner_exe

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "plugins" / "lanner-plugin-example"
DIST = "lanner-plugin-example"

FLOW = """\
id: greet
namespace: acme.demo
inputs:
  - {id: who, type: STRING, defaults: plugins}
tasks:
  - id: hello
    type: acme.Hello
    name: "{{ inputs.who }}"
  - id: after
    type: log
    message: "{{ outputs.hello.greeting }}"
triggers:
  - id: tick
    type: acme.Tick
    interval: PT1S
    conditions:
      - type: acme.Parity
        parity: EVEN
"""


def _installer() -> list[str]:
    uv = Path(sys.prefix) / "tools" / "bin" / "uv"  # where make install puts Lanner's pinned uv
    if uv.exists():
        return [str(uv), "pip"]
    if shutil.which("uv"):
        return ["uv", "pip"]
    return [sys.executable, "-m", "pip"]


def _installed() -> bool:
    probe = f"import importlib.metadata as m\ntry: m.distribution({DIST!r})\nexcept m.PackageNotFoundError: raise SystemExit(1)"
    return subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


class Plugin:
    """Installs and removes the example plugin in the running interpreter's environment."""

    def __init__(self, build_root: Path, record: Path):
        self.build_root = build_root
        self.record = record

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_")}
        env["LANNER_PLUGIN_RECORD"] = str(self.record)  # the "which plugin was it" memory, kept out of the venv
        env.update(extra)
        return env

    def install(self) -> None:
        if _installed():
            return
        source = self.build_root / f"src-{time.monotonic_ns()}"
        shutil.copytree(FIXTURE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        cmd = [*_installer(), "install", "--no-deps", "--python", sys.executable, str(source)]
        if cmd[0] == sys.executable:  # pip has no --python
            cmd = [sys.executable, "-m", "pip", "install", "--no-deps", str(source)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=180)
        assert done.returncode == 0, done.stderr

    def uninstall(self) -> None:
        if not _installed():
            return
        cmd = [*_installer(), "uninstall", "--python", sys.executable, DIST]
        if cmd[0] == sys.executable:
            cmd = [sys.executable, "-m", "pip", "uninstall", "-y", DIST]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 0, done.stderr

    def lanner(self, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = self.env(**({"LANNER_HOME": str(home)} if home else {}))
        return subprocess.run([*lanner_exe(), *args], capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plugin]:
    root = tmp_path_factory.mktemp("plugin")
    found = Plugin(root, root / "plugin-types.json")
    try:
        yield found
    finally:
        found.uninstall()


@pytest.fixture
def installed(plugin: Plugin) -> Plugin:
    plugin.install()
    return plugin


def test_plugins_list_shows_the_plugin_its_version_and_its_types(installed: Plugin) -> None:
    done = installed.lanner("plugins", "list", "--json")
    assert done.returncode == 0, done.stderr
    plugins = {p["name"]: p for p in json.loads(done.stdout)}
    example = plugins[DIST]
    assert example["version"] == "0.1.0" and not example["builtin"] and example["errors"] == []
    assert [t["type"] for t in example["tasks"]] == ["acme.Hello"]
    assert example["tasks"][0]["class"] == "lanner_plugin_example.hello.Hello"
    assert [t["type"] for t in example["triggers"]] == ["acme.Tick"]
    assert [t["type"] for t in example["conditions"]] == ["acme.Parity"]
    assert list(plugins)[0] == "lanner"  # Lanner's own types come first


def test_a_flow_using_the_plugin_validates_and_runs_from_the_cli(installed: Plugin, tmp_path: Path) -> None:
    flow = tmp_path / "greet.yaml"
    flow.write_text(FLOW)
    done = installed.lanner("flow", "validate", str(flow))
    assert done.returncode == 0 and "valid (acme.demo.greet)" in done.stdout, done.stdout + done.stderr
    ran = installed.lanner("flow", "run", str(flow), "--json", "--input", "who=Ada", home=tmp_path / "home")
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    hello = next(t for t in summary["taskRuns"] if t["taskId"] == "hello")
    assert hello["outputs"]["greeting"] == "Hello, Ada!"
    uri = hello["outputs"]["file"]
    assert uri.startswith("lanner:///acme.demo/greet/executions/") and uri.endswith("/greeting.txt")
    stored = tmp_path / "home" / "storage" / uri.removeprefix("lanner:///")
    assert stored.read_text() == "Hello, Ada!"
    assert "Hello, Ada!" in ran.stderr  # the task's log line, streamed while it ran


def test_the_json_schema_and_the_palette_show_the_plugin_types(installed: Plugin) -> None:
    done = installed.lanner("flow", "schema")
    assert done.returncode == 0, done.stderr
    defs = json.loads(done.stdout)["$defs"]
    assert defs["Hello"]["properties"]["type"]["enum"] == ["acme.Hello"]
    assert defs["Hello"]["x-lanner"]["plugin"] == DIST and "name" in defs["Hello"]["required"]
    assert defs["Tick"]["properties"]["type"]["enum"] == ["acme.Tick"] and "interval" in defs["Tick"]["properties"]
    assert defs["Parity"]["properties"]["type"]["enum"] == ["acme.Parity"]
    palette = subprocess.run(
        [sys.executable, "-c", "import json; from builder.canvas.palette import palette_items; print(json.dumps(palette_items()))"],
        capture_output=True, text=True, env=installed.env(), cwd=ROOT, timeout=120, check=False,
    )
    assert palette.returncode == 0, palette.stderr
    items = json.loads(palette.stdout)
    ours = [i for i in items if i["plugin"] == DIST]
    assert [(i["kind"], i["type"], i["section"]) for i in ours] == [("task", "acme.Hello", DIST), ("trigger", "acme.Tick", DIST)]
    assert ours[0]["template"] == {"type": "acme.Hello", "name": ""} and ours[0]["pluginVersion"] == "0.1.0"
    first = items.index(ours[0])
    assert items[first:first + 2] == ours, "a plugin's types stand together, in their own section"
    assert all(i["plugin"] != DIST for i in items[:first]) and any(i["section"] != DIST for i in items[:first])
    assert all(i["plugin"] not in ("lanner", None) for i in items[first:]), "a plugin's types come after Lanner's own"


def test_the_server_lists_the_plugin_and_its_trigger_fires_through_its_condition(installed: Plugin, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={"LANNER_PLUGIN_RECORD": str(installed.record)})
    (server.flows / "greet.yaml").write_text(FLOW)
    server.start()
    try:
        plugins = httpx.get(server.base + "/api/v1/plugins", timeout=30).json()
        example = next(p for p in plugins if p["name"] == DIST)
        assert [t["type"] for t in example["tasks"]] == ["acme.Hello"]
        schema = httpx.get(server.base + "/api/v1/plugins/schemas/flow", timeout=30).json()
        assert "Tick" in schema["$defs"]
        ended = _wait_for_executions(server, 2)
        ticks = [e["trigger"]["tick"] for e in ended]
        assert all(t % 2 == 0 for t in ticks), ticks  # acme.Parity let only even ticks through
        assert len(set(ticks)) == len(ticks)  # one execution per tick
        for e in ended:
            assert e["state"] == "SUCCESS" and e["trigger"]["type"] == "acme.Tick"
            hello = next(t for t in e["taskRuns"] if t["taskId"] == "hello")
            assert hello["outputs"]["greeting"] == "Hello, plugins!"
        triggers = httpx.get(server.base + "/api/v1/triggers/search", timeout=30).json()
        rows = triggers.get("results", triggers)
        tick = next(r for r in rows if r["triggerId"] == "tick")
        assert tick["type"] == "acme.Tick" and tick["lastError"] is None
    finally:
        server.stop()
    line = next(x for x in server.log().splitlines() if "plugins: lanner 0.1.0, " in x)
    assert "lanner-plugin-example 0.1.0" in line  # with the first-party plugins installed beside it


def _wait_for_executions(server: ServerProcess, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = httpx.get(server.base + "/api/v1/executions/search", params={"flowId": "greet", "size": 50}, timeout=30).json()
        ended = [e for e in found.get("results", found) if e["state"] in ("SUCCESS", "FAILED", "WARNING", "KILLED")]
        if len(ended) >= count:
            return [httpx.get(server.base + f"/api/v1/executions/{e['id']}", timeout=30).json() for e in ended]
        if time.monotonic() > deadline:
            pytest.fail(f"fewer than {count} executions of the trigger in {timeout}s:\n{server.log()[-3000:]}")
        time.sleep(0.3)


def test_uninstalling_the_plugin_makes_flows_that_use_it_invalid_naming_it(installed: Plugin, tmp_path: Path) -> None:
    flow, typo = tmp_path / "greet.yaml", tmp_path / "typo.yaml"
    flow.write_text(FLOW)
    typo.write_text(FLOW.replace("acme.Hello", "acme.Helo"))
    assert installed.lanner("flow", "validate", str(flow)).returncode == 0  # Lanner sees the plugin in this environment
    installed.uninstall()
    done = installed.lanner("flow", "validate", str(flow), str(typo))
    assert done.returncode == 1
    not_installed = "is not installed; it came from plugin lanner-plugin-example 0.1.0: install it again (pip install lanner-plugin-example) or change the type"
    assert done.stdout.splitlines() == [
        f"{flow}: tasks[0].type: task type 'acme.Hello' {not_installed} (line 7)",
        f"{flow}: triggers[0].type: trigger type 'acme.Tick' {not_installed} (line 14)",
        f"{typo}: tasks[0].type: unknown task type 'acme.Helo'; did you mean 'acme.Hello'? "
        f"(it came from plugin {DIST}, which is not installed) (line 7)",
        f"{typo}: triggers[0].type: trigger type 'acme.Tick' {not_installed} (line 14)",
    ]
    ran = installed.lanner("flow", "run", str(flow), home=tmp_path / "home")
    assert ran.returncode == 2 and f"tasks[0].type: task type 'acme.Hello' {not_installed}" in ran.stderr
