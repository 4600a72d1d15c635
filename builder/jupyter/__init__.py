"""Lanner inside Jupyter: ``%load_ext builder.jupyter``, the ``%%flow`` magics and a Python API.

>>> from builder.jupyter import show, run, watch, edit
>>> show("flows/hello_world.yaml")            # the topology widget
>>> run("flows/hello_world.yaml")             # runs it, the widget follows live, returns the summary
>>> run("my_flow.yaml", {"name": "Ada"})      # with inputs
>>> watch("3f2a...", server="http://127.0.0.1:8080")
>>> edit("flows/hello_world.yaml")            # the builder's canvas; Save writes the file

Flows run on the embedded engine (``LANNER_HOME``, default ``./.lanner``) unless a
``server`` URL is given.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from builder.jupyter.backends import NotebookError
from builder.jupyter.session import FlowInvalid, Run, Session
from builder.jupyter.widget import FlowWidget

__all__ = ["FlowInvalid", "FlowWidget", "NotebookError", "Run", "Session", "default_session", "edit",
           "load_ipython_extension", "run", "show", "unload_ipython_extension", "watch"]


@cache
def default_session() -> Session:
    """The session the magics and the functions below share (one per kernel)."""
    return Session()


def show(source: str, *, server: str | None = None) -> FlowWidget:
    """The topology widget of a flow given as YAML text, a file path, or a deployed flow id."""
    return default_session().show(source, server=server)


def edit(source: str, *, server: str | None = None) -> Any:
    """The builder's drag-and-drop canvas on a flow file or deployed flow id; *Save* writes the YAML back."""
    return default_session().edit(source, server=server)


def run(source: str | Path, inputs: dict[str, Any] | None = None, *, server: str | None = None,
        wait: bool = True, timeout: float | None = None) -> dict[str, Any] | Run | None:
    """Deploy and run a flow, showing its live topology.

    Returns the execution summary when ``wait`` (the default), else the :class:`Run`
    being watched (``.wait()``, ``.kill()``, ``.widget``); None when the notebook is
    itself running as a ``notebook`` task (flows are then drawn, not run).
    """
    handle = default_session().run(str(source), inputs, server=server)
    if handle is None:
        return None
    return handle.wait(timeout) if wait else handle


def watch(execution_id: str, *, server: str | None = None, wait: bool = False) -> Run | dict[str, Any]:
    """Show the live topology of an execution that is already running (or over)."""
    handle = default_session().watch(execution_id, server=server)
    return handle.wait() if wait else handle


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext builder.jupyter`` (or ``c.InteractiveShellApp.extensions``)."""
    from builder.jupyter.magics import FlowMagics

    ipython.register_magics(FlowMagics(ipython, default_session()))


def unload_ipython_extension(ipython: Any) -> None:
    """Stop watching executions; the embedded engine is closed when the kernel exits."""
    for handle in default_session().runs:
        handle.stop()
