"""Plugins for tests without pip: a distribution's metadata and modules in a folder put on ``sys.path``.

``importlib.metadata`` finds a ``<name>-<version>.dist-info`` folder (``METADATA``
and ``entry_points.txt``) on any ``sys.path`` entry exactly as it finds an
installed wheel, so the registry's real entry-point discovery and loading run
against it. The same folder on ``PYTHONPATH`` serves a ``lanner`` subprocess.
The out-of-repo plugin installed with ``uv pip install`` lives in
``tests/fixtures/plugins/lanner-plugin-example``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from textwrap import dedent

GROUPS = {"task": "lanner.tasks", "trigger": "lanner.triggers", "condition": "lanner.conditions"}


def fake_distribution(
    site: Path,
    name: str,
    version: str,
    entry_points: dict[str, dict[str, str]],
    modules: dict[str, str],
) -> Path:
    """Write a distribution into ``site``: ``modules`` (relative file -> source) and its dist-info.

    ``entry_points`` is ``{"task"|"trigger"|"condition": {type name: "module:Class"}}``.
    """
    site.mkdir(parents=True, exist_ok=True)
    for rel, source in modules.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(source), encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    lines = []
    for kind, names in entry_points.items():
        lines.append(f"[{GROUPS[kind]}]")
        lines += [f"{type_name} = {target}" for type_name, target in names.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return site


@contextmanager
def on_sys_path(site: Path, *packages: str) -> Iterator[None]:
    """Make the distributions in ``site`` visible to this process's registry, then forget them."""
    from engine.model import registry

    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    registry.reset()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        for name in list(sys.modules):
            if name.split(".", 1)[0] in packages:
                del sys.modules[name]
        registry.reset()


GOOD_TASK = '''
    from engine.sdk import Field, RunContext, RunnableTask, TaskResult, register_task

    @register_task("demo.Echo", "demo.LegacyEcho", group="Demo", title="Echo", icon="🔊", summary="Return the text.")
    class Echo(RunnableTask):
        text: str = Field(description="What to return.")

        def run(self, ctx: RunContext) -> TaskResult:
            ctx.logger.info(ctx.render(self.text))
            return TaskResult({"text": ctx.render(self.text)})
'''
