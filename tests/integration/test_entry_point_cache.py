"""Start-up reads the installed entry points from a cache that any change of the installed distributions renews."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.model import entry_point_cache
from tests.plugin_fixtures import fake_distribution, on_sys_path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANNER_PLUGIN_RECORD", str(tmp_path / "share" / "plugin-types.json"))
    monkeypatch.setattr(entry_point_cache, "_memo", None)
    return tmp_path / "share" / "entry-points.json"


def _names(group: str) -> set[str]:
    return {name for g, name, *_ in entry_point_cache.entries() if g == group}


def test_a_distribution_installed_or_removed_after_the_cache_was_written_is_seen(tmp_path: Path, cache: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    with on_sys_path(site):
        assert "cached.Echo" not in _names("lanner.tasks")
        assert json.loads(cache.read_text())["lists"][0]  # written at the first read
        fake_distribution(site, "lanner-plugin-cached", "1.0", {"task": {"cached.Echo": "cached_mod:Echo"}}, {})
        entry_point_cache._memo = None  # a new process: only the file remains
        assert "cached.Echo" in _names("lanner.tasks")
        found = next(e for e in entry_point_cache.entries() if e[1] == "cached.Echo")
        assert found == ("lanner.tasks", "cached.Echo", "cached_mod:Echo", "lanner-plugin-cached", "1.0")
        for path in sorted(site.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        entry_point_cache._memo = None
        assert "cached.Echo" not in _names("lanner.tasks")


def test_an_unchanged_environment_is_answered_from_the_file(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = entry_point_cache.entries()
    entry_point_cache._memo = None
    monkeypatch.setattr(entry_point_cache, "_scan", lambda: pytest.fail("the metadata was parsed again"))
    assert entry_point_cache.entries() == first


def test_processes_started_differently_keep_their_own_answers(cache: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`lanner` and `python -c` in a project put other folders first on sys.path: each key stays in the file."""
    first = entry_point_cache.entries()
    other = tmp_path / "project"
    other.mkdir()
    with on_sys_path(other):
        entry_point_cache._memo = None
        assert entry_point_cache.entries() == first  # scanned once for this key
    monkeypatch.setattr(entry_point_cache, "_scan", lambda: pytest.fail("the metadata was parsed again"))
    for _ in range(2):
        entry_point_cache._memo = None
        assert entry_point_cache.entries() == first
        with on_sys_path(other):
            entry_point_cache._memo = None
            assert entry_point_cache.entries() == first


def _pydantic_plugins_after_priming(env: dict[str, str]) -> object:
    code = ("from engine.model.entry_point_cache import prime_pydantic; prime_pydantic();"
            "from pydantic.plugin import _loader; print(repr(_loader._plugins))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.strip()


def test_pydantic_is_told_it_has_no_plugins_only_when_none_is_installed(tmp_path: Path) -> None:
    env = {**os.environ, "LANNER_PLUGIN_RECORD": str(tmp_path / "share" / "plugin-types.json")}
    assert _pydantic_plugins_after_priming(env) == "{}"  # pydantic then never scans the metadata itself
    site = tmp_path / "site"
    fake_distribution(site, "pydantic-plugin-demo", "1.0", {}, {"demo_plugin.py": "plugin = object()\n"})
    info = next(site.glob("*.dist-info"))
    (info / "entry_points.txt").write_text("[pydantic]\ndemo = demo_plugin:plugin\n")
    env["PYTHONPATH"] = str(site)
    assert _pydantic_plugins_after_priming(env) == "None"  # left for pydantic to find and load
