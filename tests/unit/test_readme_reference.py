"""README's task reference is generated from the registry and must match it."""

from __future__ import annotations

from engine.model.reference import END, START, render_into


def test_readme_task_table_matches_registry(repo_root):
    text = (repo_root / "README.md").read_text()
    assert START in text and END in text
    assert render_into(text) == text, "README task table is stale: run `make docs`"
