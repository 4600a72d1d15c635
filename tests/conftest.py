"""Shared fixtures: a LocalRunner on a fresh home, and the repository root."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The throwaway PostgreSQL cluster (fixtures pg_cluster, pg_url, own_pg_cluster).
pytest_plugins = ["tests.postgres_fixture"]


@pytest.fixture(scope="session", autouse=True)
def plugin_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where Lanner remembers plugins' type names during the tests: never the environment itself."""
    path = tmp_path_factory.mktemp("plugin-record") / "plugin-types.json"
    os.environ["LANNER_PLUGIN_RECORD"] = str(path)
    return path


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def lanner_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LANNER_HOME", str(home))
    monkeypatch.delenv("LANNER_DATABASE_URL", raising=False)
    return home


@pytest.fixture
def runner(lanner_home: Path):
    from engine.runtime.local import LocalRunner

    r = LocalRunner(lanner_home, workers=8)
    yield r
    r.close()


@pytest.fixture
def lanner_cmd() -> list[str]:
    """The `lanner` console script of this interpreter's environment."""
    exe = Path(sys.executable).parent / "lanner"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]


@pytest.fixture
def cli_env(lanner_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LANNER_HOME"] = str(lanner_home)
    env.pop("LANNER_DATABASE_URL", None)
    return env
