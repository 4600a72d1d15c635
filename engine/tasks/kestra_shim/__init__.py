"""Kestra's Python helper module, copied into Python tasks' working directories (see engine.tasks.scripts)."""
