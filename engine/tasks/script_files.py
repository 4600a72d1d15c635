"""Internal-storage files inside a script's text, made local the way Kestra's script service does.

A script's ``commands``, ``script`` and ``env`` values may name a file of
internal storage (``cat "{{ inputs.file }}"``, ``--data {{ outputs.dl.uri }}``):
the process cannot open a ``lanner:///`` (or Kestra's ``kestra:///``) URI, so
each one is copied into the task's working directory and the URI replaced by the
copy's absolute path before the process starts. The copy keeps the file's name
(tools look at extensions), in a folder of its own so two URIs never collide.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from engine.sdk import (
    RunContext,
    StorageError,
    TaskFailed,
    is_storage_uri,
    normalize_uri,
    parse_uri,
    storage_for_context,
)

#: Kestra's pattern of a storage URI inside text (the characters a URI of its files may hold).
_URI = re.compile(r"(?:lanner|kestra)://[-a-zA-Z0-9%._+~#=/]*")


class LocalFiles:
    """Copies the storage files a script's text names into its working directory (each URI once)."""

    def __init__(self, ctx: RunContext, workdir: Path):
        self._ctx = ctx
        self._workdir = workdir
        self._copies: dict[str, str] = {}

    def replace(self, text: str, where: str) -> str:
        """``text`` with every storage URI replaced by the path of a local copy; ``where`` names the property."""
        if "://" not in text:
            return text
        return _URI.sub(lambda m: self._local(m.group(0), where), text)

    def _local(self, uri: str, where: str) -> str:
        found = self._copies.get(uri)
        if found is not None:
            return found
        try:
            parse_uri(uri)
        except StorageError:
            return uri  # not a file's URI (a bare scheme in a message, say): left as written
        name = Path(uri.rstrip("/").rsplit("/", 1)[-1]).name or "file"
        folder = Path(tempfile.mkdtemp(prefix=".lanner-in-", dir=self._workdir))
        target = folder / name
        try:
            with storage_for_context(self._ctx).open(normalize_uri(uri), namespace=self._ctx.namespace) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        except (StorageError, OSError) as exc:
            raise TaskFailed(f"{where}: {uri} cannot be read from internal storage: {exc}") from None
        self._copies[uri] = str(target)
        return str(target)

    @property
    def copied(self) -> int:
        return len(self._copies)


def bad_relative(name: str) -> bool:
    """True for names that could leave the working directory (absolute, ``..``, empty)."""
    p = PurePosixPath(name.replace("\\", "/"))
    return not name.strip() or p.is_absolute() or ".." in p.parts


def write_input_files(ctx: RunContext, workdir: Path, input_files: object, extra: dict[str, Any] | None = None) -> set[str]:
    """Write Kestra's ``inputFiles`` (name -> content, rendered; a storage URI's file is copied) into ``workdir``."""
    if input_files is None:
        return set()
    files = ctx.render(input_files, extra)
    if isinstance(files, str):
        try:
            files = json.loads(files)
        except ValueError:
            pass
    if not isinstance(files, dict):
        raise TaskFailed(f"inputFiles must render to a map of file name to content, not {type(files).__name__}")
    root = workdir.resolve()
    for name, content in files.items():
        name = str(name)
        target = (workdir / name).resolve()
        if bad_relative(name) or not target.is_relative_to(root):
            raise TaskFailed(f"inputFiles: {name!r} must be a relative path inside the working directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_storage_uri(content) and "\n" not in content:
            try:
                content = storage_for_context(ctx).read_bytes(normalize_uri(content.strip()), namespace=ctx.namespace)
            except (StorageError, OSError) as exc:
                raise TaskFailed(f"inputFiles.{name}: {exc}") from exc
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            text = content if isinstance(content, str) else json.dumps(content)
            target.write_text(text, encoding="utf-8")
    return {str(n) for n in files}


def collect_output_files(ctx: RunContext, workdir: Path, patterns: list[str] | None) -> dict[str, str]:
    """Store the files of ``workdir`` matching Kestra's ``outputFiles`` globs: relative name -> URI."""
    if not patterns:
        return {}
    root = workdir.resolve()
    found: dict[str, str] = {}
    for pattern in ctx.render(patterns):
        pattern = str(pattern)
        if bad_relative(pattern):
            ctx.logger.warn(f"outputFiles pattern {pattern!r} is ignored: it must be relative to the working directory")
            continue
        matched = False
        for path in sorted(workdir.glob(pattern)):
            if not path.is_file() or not path.resolve().is_relative_to(root):
                continue
            matched = True
            name = path.relative_to(workdir).as_posix()
            if name not in found:
                found[name] = ctx.put_file(path, name) if ctx.put_file is not None else str(path.resolve())
        if not matched:
            ctx.logger.warn(f"outputFiles pattern {pattern!r} matched no file in the working directory")
    return found


@dataclass
class ScriptRun:
    """What one attempt of a script task runs with: its storage files made local, and its Python."""

    files: LocalFiles
    python: str = field(default=sys.executable)
