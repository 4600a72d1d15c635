"""Where a notebook task's files come from and where they go.

A notebook is read from internal storage (``lanner:///``, same namespace only),
a namespace file (``nsfile:///``), any URL an installed fsspec implementation
understands (``s3://``, ``gs://``, ``https://``, ``memory://``...), or a local
path (absolute, else beside the flow file, else in the project directory).

The executed notebook and report of attempt N are stored beside, never over,
those of earlier attempts, so a retry does not erase what the failure looked like.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.sdk import (
    NSFILE_SCHEME,
    RunContext,
    StorageError,
    TaskFailed,
    is_storage_uri,
    resolve_nsfile,
    storage_for_context,
)

#: Bytes of a notebook read from a URL at most.
MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def tmp_base(ctx: RunContext) -> Path | None:
    if ctx.home is None:
        return None
    base = Path(ctx.home) / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    return base


def resolve_local(ctx: RunContext, ref: str, flow_dir: Path | None = None) -> Path | None:
    """An absolute path, else the first of flow folder / project directory where ``ref`` exists."""
    path = Path(ref).expanduser()
    if path.is_absolute():
        return path.resolve()
    for base in (flow_dir or ctx.flow_dir, Path.cwd()):
        if base is not None and (Path(base) / path).exists():
            return (Path(base) / path).resolve()
    return None


def is_url(ref: str) -> bool:
    """Whether ``ref`` is a URL (for fsspec) rather than a path; ``lanner://`` and ``nsfile://`` included."""
    return bool(_URL.match(ref))


def _read_url(ref: str) -> bytes:
    import fsspec

    protocol = urlsplit(ref).scheme
    try:
        fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError) as exc:
        raise TaskFailed(
            f"notebook {ref!r}: no installed fsspec implementation reads '{protocol}://' URLs ({exc}); "
            "install the package that provides it (e.g. s3fs for s3://) on the worker"
        ) from None
    try:
        with fsspec.open(ref, "rb") as fh:
            data = fh.read(MAX_NOTEBOOK_BYTES + 1)
    except FileNotFoundError:
        raise TaskFailed(f"notebook {ref!r} not found") from None
    except Exception as exc:  # noqa: BLE001 - every backend has its own errors; say which and why
        raise TaskFailed(f"notebook {ref!r} could not be read: {type(exc).__name__}: {exc}") from None
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise TaskFailed(f"notebook {ref!r} is larger than {MAX_NOTEBOOK_BYTES // (1024 * 1024)} MB")
    return data


def fetch_notebook(ctx: RunContext, ref: str, scratch: Path) -> tuple[Path, Path | None]:
    """A local copy of the notebook to run, and its folder when it is a local file."""
    try:
        if is_storage_uri(ref):
            data = storage_for_context(ctx).read_bytes(ref, namespace=ctx.namespace)
            name = Path(ref.rsplit("/", 1)[-1]).name or "notebook.ipynb"
        elif ref.startswith(NSFILE_SCHEME):
            rel = resolve_nsfile(ref, ctx.namespace)
            data = storage_for_context(ctx).namespace_files_get(ctx.namespace, rel)
            name = rel.rsplit("/", 1)[-1]
        elif is_url(ref):
            data = _read_url(ref)
            name = Path(urlsplit(ref).path).name or "notebook.ipynb"
        else:
            path = resolve_local(ctx, ref)
            if path is None or not path.is_file():
                raise TaskFailed(f"notebook {ref!r} not found (looked beside the flow file and in the project directory)")
            return path, path.parent
    except StorageError as exc:
        raise TaskFailed(f"notebook: {exc}") from None
    if not name.endswith(".ipynb"):
        name += ".ipynb"
    target = scratch / "in" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target, None


def file_content(ctx: RunContext, content: object) -> bytes:
    """The bytes an ``inputFiles`` entry stands for: text, or the file a ``lanner:///``/``nsfile:///`` URI names."""
    if isinstance(content, bytes):
        return content
    if not isinstance(content, str):
        return json.dumps(content).encode("utf-8")
    text = content.strip()
    if is_storage_uri(text) and "\n" not in text:
        return storage_for_context(ctx).read_bytes(text, namespace=ctx.namespace)
    if text.startswith(NSFILE_SCHEME) and "\n" not in text:
        return storage_for_context(ctx).namespace_files_get(ctx.namespace, resolve_nsfile(text, ctx.namespace))
    return content.encode("utf-8")


def store(ctx: RunContext, path: Path, name: str) -> str:
    return ctx.put_file(path, name) if ctx.put_file is not None else str(path.resolve())


def attempt_file_name(name: str, attempt: int) -> str:
    """Where attempt ``attempt`` (0-based) keeps a file: the first one as is, later ones in ``attempt-N/``."""
    return name if attempt == 0 else f"attempt-{attempt + 1}/{name}"


def _stored_exists(ctx: RunContext, uri: str) -> bool:
    try:
        return storage_for_context(ctx).exists(uri, ctx.namespace)
    except (StorageError, OSError):
        return False


def store_attempt_files(ctx: RunContext, executed: Path, report: Path) -> dict[str, Any]:
    """Store this attempt's notebook and report; ``previousAttempts`` lists the earlier attempts' files."""
    files = {"notebook": executed, "report": report}
    out: dict[str, Any] = {}
    for key, path in files.items():
        if path.is_file():
            out[key] = store(ctx, path, attempt_file_name(path.name, ctx.attempt))
    if not ctx.attempt or ctx.put_file is None or not out:
        return out
    earlier = []
    for attempt in range(ctx.attempt):
        found = {}
        for key, uri in out.items():
            name = files[key].name
            prior = uri[: -len(attempt_file_name(name, ctx.attempt))] + attempt_file_name(name, attempt)
            if _stored_exists(ctx, prior):
                found[key] = prior
        if found:
            earlier.append({"attempt": attempt + 1, **found})
    if earlier:
        out["previousAttempts"] = earlier
    return out
