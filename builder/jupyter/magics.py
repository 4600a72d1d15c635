"""The ``%flow`` line magic and ``%%flow`` cell magic.

``%%flow [--run] [--input K=V]... [--server URL] [--no-wait]``: the cell is flow YAML;
it is validated (errors listed with their line, no traceback) and drawn as a
widget; with ``--run`` it is also deployed and run, the widget follows the
execution live, and the cell returns the execution summary.

``%flow show PATH|ID``, ``%flow run PATH|ID [--input K=V]...``, ``%flow watch EXECUTION_ID``
do the same for flows kept in files or already deployed. ``%flow edit PATH|ID`` opens the
builder's drag-and-drop canvas on it; *Save* writes the YAML back (file or server).
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from builder.jupyter.backends import NotebookError
from builder.jupyter.session import Session, parse_inputs

USAGE = """Usage:
  %%flow [--run] [--input NAME=VALUE]... [--server URL] [--no-wait]   (cell: flow YAML)
  %flow show PATH|NAMESPACE.FLOW_ID [--server URL]
  %flow run PATH|NAMESPACE.FLOW_ID [--input NAME=VALUE]... [--server URL] [--no-wait]
  %flow watch EXECUTION_ID [--server URL] [--wait]
  %flow edit PATH|NAMESPACE.FLOW_ID [--server URL]"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad options as one NotebookError instead of exiting."""

    def error(self, message: str) -> Any:
        raise NotebookError(f"{message}\n{USAGE}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise NotebookError(message or USAGE)


def _parser(name: str, *, target: bool, run_options: bool) -> _Parser:
    p = _Parser(prog=name, add_help=False)
    if target:
        p.add_argument("target")
    p.add_argument("--server", default=None)
    if run_options:
        p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE")
        p.add_argument("--no-wait", action="store_true")
    return p


@magics_class
class FlowMagics(Magics):
    """``%flow`` / ``%%flow``: define, draw, run and watch Lanner flows in a notebook."""

    def __init__(self, shell: Any, session: Session):
        super().__init__(shell)
        self.session = session

    @line_cell_magic
    def flow(self, line: str, cell: str | None = None) -> Any:
        try:
            args = shlex.split(line)
        except ValueError as exc:
            raise NotebookError(f"cannot read the options '{line}': {exc}") from None
        if cell is not None:
            return self._cell(args, cell)
        if not args or args[0] in ("help", "-h", "--help"):
            print(USAGE)
            return None
        command, rest = args[0], args[1:]
        if command == "show":
            opts = _parser("%flow show", target=True, run_options=False).parse_args(rest)
            return self.session.show(opts.target, server=opts.server)
        if command == "run":
            opts = _parser("%flow run", target=True, run_options=True).parse_args(rest)
            return self._run(opts.target, opts)
        if command == "edit":
            opts = _parser("%flow edit", target=True, run_options=False).parse_args(rest)
            return self.session.edit(opts.target, server=opts.server)
        if command == "watch":
            p = _parser("%flow watch", target=True, run_options=False)
            p.add_argument("--wait", action="store_true")
            opts = p.parse_args(rest)
            run = self.session.watch(opts.target, server=opts.server)
            return run.wait() if opts.wait else None
        raise NotebookError(f"unknown %flow command '{command}'\n{USAGE}")

    def _cell(self, args: list[str], cell: str) -> Any:
        p = _parser("%%flow", target=False, run_options=True)
        p.add_argument("--run", action="store_true")
        opts = p.parse_args(args)
        if not cell.strip():
            raise NotebookError("the %%flow cell is empty: write the flow YAML below the %%flow line")
        if not opts.run:
            if opts.input:
                raise NotebookError("--input only makes sense with --run")
            return self.session.show(cell)
        return self._run(cell, opts)

    def _run(self, source: str, opts: argparse.Namespace) -> Any:
        run = self.session.run(source, parse_inputs(opts.input), server=opts.server)
        if run is None or opts.no_wait:
            return None
        return run.wait()
