"""What the cloud storage tasks share: rendering Kestra's ``Property<...>`` values, masking credentials,
reading ``from`` out of internal storage, keeping downloaded files.

Kestra properties accept expressions anywhere (``maxKeys: "{{ inputs.n }}"``),
so numbers and flags are declared ``int | str`` / ``bool | str`` and read here;
a value of the wrong kind fails the attempt with a sentence naming the field.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from engine.sdk import NSFILE_SCHEME, SCHEME, RunContext, StorageError, TaskFailed, resolve_nsfile

GROUP = "Cloud storage"
#: What Downloads and the triggers do with the objects they took (Kestra's ``ActionInterface.Action``).
ACTIONS = ("MOVE", "DELETE", "NONE")


def text(render: Callable[[Any], Any], value: Any) -> str | None:
    """A rendered string property; None (or blank) when unset."""
    if value is None:
        return None
    rendered = render(value)
    if rendered is None:
        return None
    out = str(rendered).strip()
    return out or None


def required(render: Callable[[Any], Any], value: Any, field: str, task: str) -> str:
    out = text(render, value)
    if out is None:
        raise TaskFailed(f"{task}: {field} is empty once rendered; give it a value")
    return out


def integer(render: Callable[[Any], Any], value: Any, field: str, task: str, default: int, minimum: int = 0) -> int:
    if value is None:
        return default
    rendered = render(value) if isinstance(value, str) else value
    try:
        number = int(str(rendered).strip()) if not isinstance(rendered, int) or isinstance(rendered, bool) else rendered
    except ValueError:
        raise TaskFailed(f"{task}: {field} must be a whole number, not {rendered!r}") from None
    if number < minimum:
        raise TaskFailed(f"{task}: {field} must be at least {minimum}, not {number}")
    return number


def flag(render: Callable[[Any], Any], value: Any, field: str, task: str, default: bool = False) -> bool:
    if value is None:
        return default
    rendered = render(value) if isinstance(value, str) else value
    if isinstance(rendered, bool):
        return rendered
    word = str(rendered).strip().lower()
    if word in ("true", "1", "yes"):
        return True
    if word in ("false", "0", "no", ""):
        return False
    raise TaskFailed(f"{task}: {field} must be true or false, not {rendered!r}")


def choice(render: Callable[[Any], Any], value: Any, field: str, task: str, options: tuple[str, ...], default: str) -> str:
    word = (text(render, value) or default).upper()
    if word not in options:
        raise TaskFailed(f"{task}: {field} must be one of {', '.join(options)}, not {word!r}")
    return word


def string_map(render: Callable[[Any], Any], value: Any, field: str, task: str) -> dict[str, str] | None:
    if value is None:
        return None
    rendered = render(value)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except ValueError:
            raise TaskFailed(f"{task}: {field} must be a map of names to values") from None
    if not isinstance(rendered, dict):
        raise TaskFailed(f"{task}: {field} must be a map of names to values, not {type(rendered).__name__}")
    return {str(k): str(v) for k, v in rendered.items()}


def hider(ctx: RunContext) -> Callable[[str], None]:
    """Marks a credential as secret for this attempt: masked in outputs and in the error message (and in logs
    where the runtime offers ``add_secret``), also when the flow wrote it in plain text."""
    add = getattr(ctx, "add_secret", None)  # newer runtimes mask the attempt's logs too
    if callable(add):
        return lambda value: add(value)

    def hide(value: str) -> None:
        if value and len(value) >= 3 and value not in ctx.secrets:
            ctx.secrets.append(value)

    return hide


def source_files(ctx: RunContext, value: Any, task: str) -> dict[str, str]:
    """Upload's ``from``: one URI, a list of URIs (named after their file) or a map name -> URI (JSON text too)."""
    rendered = ctx.render(value)
    if isinstance(rendered, str):
        stripped = rendered.strip()
        if stripped.startswith(("[", "{")):
            try:
                rendered = json.loads(stripped)
            except ValueError:
                raise TaskFailed(f"{task}: from looks like JSON but is not valid JSON") from None
        else:
            rendered = [stripped]
    if isinstance(rendered, dict):
        files = {str(name): str(uri).strip() for name, uri in rendered.items()}
    elif isinstance(rendered, list):
        files = {PurePosixPath(str(uri).strip()).name: str(uri).strip() for uri in rendered}
    else:
        raise TaskFailed(f"{task}: from must be a URI, a list of URIs or a map of names to URIs")
    if not files:
        raise TaskFailed(f"{task}: no files to upload: 'from' is an empty list or map")
    for uri in files.values():
        if not uri.startswith((SCHEME, NSFILE_SCHEME)):
            raise TaskFailed(f"{task}: from {uri!r} is not a file of internal storage (lanner:///...) or a namespace file (nsfile:///...)")
    return files


@contextmanager
def open_source(ctx: RunContext, uri: str, task: str) -> Iterator[IO[bytes]]:
    """A stored file (``lanner:///``) or a namespace file (``nsfile:///``) as a binary stream."""
    try:
        if uri.startswith(NSFILE_SCHEME):
            handle: IO[bytes] = io.BytesIO(ctx.storage.namespace_files_get(ctx.namespace, resolve_nsfile(uri, ctx.namespace)))
        else:
            handle = ctx.storage.open(uri, namespace=ctx.namespace)
    except (StorageError, FileNotFoundError, OSError) as exc:
        raise TaskFailed(f"{task}: cannot read {uri}: {exc}") from None
    try:
        yield handle
    finally:
        handle.close()


@contextmanager
def scratch(ctx: RunContext) -> Iterator[Path]:
    """A private folder for downloads on their way to internal storage (under LANNER_HOME when known)."""
    base = Path(ctx.home) / "tmp" if ctx.home is not None else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"lanner-{ctx.task_id}-", dir=base) as tmp:
        yield Path(tmp)


def file_name(key: str, fallback: str) -> str:
    """The stored file's name: the last segment of the object key."""
    name = PurePosixPath(key.rstrip("/")).name
    return name if name not in ("", ".", "..") else fallback


def move_target(key: str, folder: str) -> str:
    """Where MOVE puts an object: ``<folder>/<file name>``, like Kestra."""
    return f"{folder.strip('/')}/{key.rstrip('/').rsplit('/', 1)[-1]}".lstrip("/")


def limit_files(ctx: RunContext, objects: list[Any], max_files: Any, task: str) -> list[Any]:
    """The first ``maxFiles`` (default 25) objects, with a warning when some were left out."""
    limit = integer(ctx.render, max_files, "maxFiles", task, 25, minimum=1)
    if len(objects) > limit:
        ctx.logger.warn(f"Listing returned {len(objects)} objects but maxFiles is {limit}: only the first {limit} are kept; "
                        "raise maxFiles to get more")
        return objects[:limit]
    return objects


def keep(ctx: RunContext, path: Path, key: str) -> str:
    """Put a downloaded object into internal storage under its key (or its last name when the key is no valid
    file path, a '..' segment...); its ``lanner:///`` URI."""
    try:
        return ctx.output_file(path, key.strip("/") or file_name(key, "object"))
    except StorageError:
        return ctx.output_file(path, file_name(key, "object"))
