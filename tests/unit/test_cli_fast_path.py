"""`lanner flow run` read without Typer: the plain forms run, everything else goes to Typer."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import cli_run


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    seen: list[tuple] = []
    monkeypatch.setattr(cli_run, "run_flow_file", lambda *a: seen.append(a) or 0)
    return seen


@pytest.mark.parametrize(("argv", "expected"), [
    (["flow", "run", "f.yaml"], (Path("f.yaml"), [], None, False, None)),
    (["flow", "run", "f.yaml", "--json", "-i", "a=1", "--input", "b=2=3", "--input=c=4"],
     (Path("f.yaml"), ["a=1", "b=2=3", "c=4"], None, True, None)),
    (["flow", "run", "--flows", "dir", "f.yaml", "--timeout", "2.5"], (Path("f.yaml"), [], Path("dir"), False, 2.5)),
    (["flow", "run", "--timeout=7", "f.yaml"], (Path("f.yaml"), [], None, False, 7.0)),
])
def test_plain_flow_runs_are_read_here(argv: list[str], expected: tuple, calls: list[tuple]) -> None:
    assert cli_run.fast_main(argv) == 0
    assert calls == [expected]


@pytest.mark.parametrize("argv", [
    ["flow", "run"],
    ["flow", "run", "--help"],
    ["flow", "run", "f.yaml", "-h"],
    ["flow", "run", "f.yaml", "--nope"],
    ["flow", "run", "a.yaml", "b.yaml"],
    ["flow", "run", "f.yaml", "--timeout", "PT5S"],
    ["flow", "run", "f.yaml", "--input"],
    ["flow", "run", "f.yaml", "-i=a=1"],
    ["flow", "validate", "f.yaml"],
    ["server", "local"],
    [],
])
def test_anything_else_goes_to_typer(argv: list[str], calls: list[tuple]) -> None:
    assert cli_run.fast_main(argv) is None
    assert calls == []
