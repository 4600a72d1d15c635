"""What `lanner flow run` loads: the modules a short run needs, not the CLI framework, Alembic, unused clients or Jinja."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FLOW = """\
id: cold
namespace: tests.cold
tasks:
  - id: hello
    type: log
    message: "hello from {{ execution.id }} of {{ flow.id }}"
"""
#: Loaded only for help and errors (typer, rich), store work beyond a run's rows (sqlalchemy), schema changes (alembic),
#: requests (httpx), stored files (fsspec), schedules (croniter) and a scan of the installed distributions
#: (importlib.metadata: the entry points come from their cache, pydantic is told it has no plugins), and the
#: expression engine (jinja2) for a flow whose templates only look values up.
HEAVY = ("typer", "rich", "sqlalchemy", "alembic", "httpx", "fsspec", "croniter", "importlib.metadata", "jinja2")
PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: open({out!r}, 'w').write(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules))))\n"
    "from engine.cli_run import main\n"
    "sys.argv = ['lanner', 'flow', 'run', {flow!r}, '--json']\n"
    "main()\n"
)


def test_a_plain_flow_run_loads_no_cli_framework_no_alembic_and_no_unused_client(tmp_path: Path, cli_env) -> None:
    flow = tmp_path / "cold.yaml"
    flow.write_text(FLOW)
    out = tmp_path / "loaded.json"
    warm = {**cli_env, "LANNER_HOME": str(tmp_path / "warm-up")}  # fills the entry-point cache if it is stale
    subprocess.run([sys.executable, "-c", PROBE.format(heavy=(), flow=str(flow), out=str(out))], env=warm,
                   capture_output=True, timeout=120, check=True)
    for run in ("a new home", "the same home, at head"):
        code = PROBE.format(heavy=HEAVY, flow=str(flow), out=str(out))
        done = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["state"] == "SUCCESS"
        assert json.loads(out.read_text()) == [], f"{run}: loaded {out.read_text()}"


def test_help_and_mistakes_still_go_through_the_full_cli(lanner_cmd: list[str], cli_env, tmp_path: Path) -> None:
    helped = subprocess.run([*lanner_cmd, "flow", "run", "--help"], env=cli_env, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--input" in helped.stdout and "--timeout" in helped.stdout
    missing = subprocess.run([*lanner_cmd, "flow", "run"], env=cli_env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "Missing argument" in missing.stderr
    unknown = subprocess.run([*lanner_cmd, "flow", "run", "x.yaml", "--nope"], env=cli_env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "No such option" in unknown.stderr
    bad_input = tmp_path / "f.yaml"
    bad_input.write_text(FLOW)
    wrong = subprocess.run([*lanner_cmd, "flow", "run", str(bad_input), "-i", "novalue"], env=cli_env,
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "expected KEY=VALUE" in wrong.stderr


def test_a_flow_run_pauses_the_cyclic_collector_only_while_it_starts(tmp_path: Path, monkeypatch, capsys) -> None:
    """Start-up runs without the cyclic collector; the caller's setting is what is left afterwards."""
    import gc

    from engine.cli_run import run_flow_file
    from engine.local_engine import LocalEngine

    monkeypatch.setenv("LANNER_HOME", str(tmp_path / "home"))
    flow = tmp_path / "cold.yaml"
    flow.write_text(FLOW)
    seen: list[bool] = []
    start = LocalEngine.start

    def recording_start(self: LocalEngine, *args: object, **kwargs: object) -> str:
        seen.append(gc.isenabled())  # when the execution starts
        return start(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalEngine, "start", recording_start)
    was = gc.isenabled()
    try:
        gc.enable()
        assert run_flow_file(flow, [], None, True, 60) == 0
        assert gc.isenabled() and seen == [True], "collecting again from the execution's start on"
        gc.disable()
        assert run_flow_file(flow, [], None, True, 60) == 0
        assert not gc.isenabled() and seen == [True, False], "a caller that turned it off keeps it off"
    finally:
        gc.enable() if was else gc.disable()
    assert json.loads(capsys.readouterr().out.split("\n}\n")[0] + "\n}")["state"] == "SUCCESS"
