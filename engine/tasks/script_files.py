"""Internal-storage files inside a script's text, made local the way Kestra's script service does.

A script's ``commands``, ``script`` and ``env`` values may name a file of
internal storage (``cat "{{ inputs.file }}"``, ``--data {{ outputs.dl.uri }}``):
the process cannot open a ``lanner:///`` (or Kestra's ``kestra:///``) URI, so
each one is copied into the task's working directory and the URI replaced by the
copy's absolute path before the process starts. The copy keeps the file's name
(tools look at extensions), in a folder of its own so two URIs never collide.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from engine.sdk import RunContext, StorageError, TaskFailed, normalize_uri, storage_for_context
from engine.storage import parse_uri

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
