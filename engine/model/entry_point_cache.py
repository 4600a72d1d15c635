"""The entry points Lanner reads at start-up, kept on disk until an installed distribution changes.

``importlib.metadata.entry_points()`` parses the metadata of every installed
distribution (hundreds in a data-science environment) on each call, and a cold
``lanner flow run`` made two: one for Lanner's type names, one inside pydantic,
which looks for its plugins when the first model is built. Together they were
a tenth of the run. Their answer only changes when a distribution is
installed, removed or upgraded, so it is kept in
``<sys.prefix>/share/lanner/entry-points.json`` (beside the plugin record) under a
key that such a change always alters: every ``sys.path`` entry with its time and
the names of the ``.dist-info``/``.egg-info`` folders in it (installing, removing
or reinstalling a distribution replaces its folder, which changes both). Reading
that key costs a directory listing per entry, not a parse. The file keeps the
answers of the last few keys, so processes started differently (another first
``sys.path`` entry) do not overwrite each other's. A cache that cannot be written is only not kept.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from pathlib import Path
from types import ModuleType

#: The groups read through the cache: Lanner's types and pydantic's plugins.
GROUPS = ("lanner.tasks", "lanner.triggers", "lanner.conditions", "pydantic")
PYDANTIC_GROUP = "pydantic"
_VERSION = 2

Entry = tuple[str, str, str, str | None, str | None]  # group, name, value, distribution name, version
_memo: tuple[str, list[Entry]] | None = None


def cache_path() -> Path:
    """Beside the plugin record (``plugin_index.record_path``, which ``LANNER_PLUGIN_RECORD`` moves)."""
    record = os.environ.get("LANNER_PLUGIN_RECORD")
    return (Path(record).parent if record else Path(sys.prefix) / "share" / "lanner") / "entry-points.json"


def _key() -> str:
    """A digest that changes whenever a distribution on ``sys.path`` appears, goes or changes its entry points."""
    parts: list[str] = [str(_VERSION), sys.version]
    for entry in sys.path:
        path = entry or os.getcwd()
        parts.append(f"\0{path}")
        try:
            names = sorted(n for n in os.listdir(path) if n.endswith((".dist-info", ".egg-info")))
        except OSError:  # not a folder (a zip, a missing entry): its own time stands for it
            try:
                parts.append(str(os.stat(path).st_mtime_ns))
            except OSError:
                pass
            continue
        try:
            parts.append(str(os.stat(path).st_mtime_ns))  # a reinstall removes and recreates the folder
        except OSError:
            pass
        parts.extend(names)
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _scan() -> list[Entry]:
    from importlib.metadata import entry_points

    everything = entry_points()
    owners: dict[int, tuple[str | None, str | None]] = {}  # reading a distribution's name parses its metadata: once
    found: list[Entry] = []
    for group in GROUPS:
        for ep in everything.select(group=group):
            dist = getattr(ep, "dist", None)
            if id(dist) not in owners:
                owners[id(dist)] = (dist.name, dist.version) if dist is not None else (None, None)
            found.append((group, ep.name, ep.value, *owners[id(dist)]))
    return found


#: Environments remembered in the file: ``lanner`` (its script's folder first on ``sys.path``), ``python -c`` or
#: ``python -m`` in a project (the working directory first) and a test runner each have their own key, and none
#: of them should make the next one parse the metadata again.
KEYS_KEPT = 8


def _read_cache(path: Path) -> dict[str, list[Entry]]:
    """Key -> entries of the file, newest first (empty when missing or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != _VERSION:
            return {}
        lists = [[(str(g), str(n), str(v), d, ver) for g, n, v, d, ver in found] for found in data["lists"]]
        return {str(k): lists[i] for k, i in data["keys"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return {}


def _write_cache(path: Path, kept: list[tuple[str, list[Entry]]]) -> None:
    """Each key with the index of its list; equal lists (the usual case) are written once."""
    lists: list[list[Entry]] = []
    keys: list[tuple[str, int]] = []
    for key, found in kept:
        if found not in lists:
            lists.append(found)
        keys.append((key, lists.index(found)))
    import tempfile  # only when the cache is written

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".entry-points.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"version": _VERSION, "keys": keys, "lists": lists}, fh)
    os.replace(tmp, path)


def entries() -> list[Entry]:
    """The entry points of :data:`GROUPS`, in ``entry_points()`` order; from the cache when it is current."""
    global _memo
    key = _key()
    if _memo is not None and _memo[0] == key:
        return _memo[1]
    path = cache_path()
    known = _read_cache(path)
    if key in known:
        _memo = (key, known[key])
        return known[key]
    found = _scan()
    _memo = (key, found)
    kept = [(key, found), *list(known.items())[: KEYS_KEPT - 1]]
    try:
        _write_cache(path, kept)
    except OSError:
        pass
    return found


def prime_pydantic() -> None:
    """Tell pydantic it has no plugins when none is installed, so it does not scan every distribution itself.

    Only when pydantic has not looked yet and no ``pydantic`` entry point exists;
    otherwise pydantic finds and loads its plugins as it always does. Its plugin
    loader imports ``importlib.metadata`` (with ``email``, ``zipfile``, ``csv``...:
    a tenth of a short run's imports) only to name ``entry_points``; it is given
    a stand-in that imports the real function on first call, which never comes
    once the loader knows there are no plugins.
    """
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") is not None:
        return
    if any(e[0] == PYDANTIC_GROUP for e in entries()):
        return  # pydantic loads them itself
    try:
        loader = _import_without_metadata("pydantic.plugin._loader")
    except ImportError:  # pragma: no cover - another pydantic layout: it scans itself
        return
    if getattr(loader, "_plugins", ()) is None:
        setattr(loader, "_plugins", {})  # noqa: B010 - a private name of pydantic, set as before


def _entry_points(**params: object) -> object:
    from importlib.metadata import entry_points

    return entry_points(**params)  # type: ignore[arg-type]


def _import_without_metadata(name: str) -> ModuleType:
    """Import ``name`` with ``importlib.metadata`` standing for a module whose ``entry_points`` imports the real one
    when called (unless the real one is loaded already)."""
    if name in sys.modules or "importlib.metadata" in sys.modules:
        return importlib.import_module(name)
    stand_in = ModuleType("importlib.metadata")
    stand_in.entry_points = _entry_points  # type: ignore[attr-defined]
    sys.modules["importlib.metadata"] = stand_in
    try:
        return importlib.import_module(name)
    finally:
        if sys.modules.get("importlib.metadata") is stand_in:
            del sys.modules["importlib.metadata"]
