"""Secrets: ``{{ secret('NAME') }}``, global or scoped to a namespace, and the values to mask.

Like Kestra's open-source edition, global secrets come from environment
variables ``SECRET_<NAME>`` holding the base64-encoded value;
``LANNER_SECRETS_FILE`` may name a YAML/JSON file of plain ``NAME: value``
pairs. A secret can also belong to a namespace, as in Kestra's enterprise
edition: a flow sees the secrets of its own namespace and of its parents
(the nearest wins), then the global ones, never those of a sibling:

* ``LANNER_SECRET_<NAMESPACE>__<NAME>`` (base64), the namespace upper-cased
  with ``.`` and ``-`` written ``_``: ``LANNER_SECRET_TEAM_A__TOKEN`` belongs
  to ``team.a`` (and so also to ``team_a`` and ``team-a``: use the file for
  namespaces that differ only by those characters);
* in the secrets file, a mapping under a namespace name is that namespace's
  section: ``team.a: {TOKEN: ...}``.

Every value of every scope is masked (engine/runtime/masking.py), used or not:
a script may read one from its environment. So are the values of the SECRET
inputs of the executions that run (``remember_inputs``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from engine.runtime.masking import MASK, MIN_SECRET, mask_data, mask_file, mask_text

__all__ = ["MASK", "SecretError", "SecretStore", "mask_data", "mask_file", "mask_text", "env_scope"]

GLOBAL_PREFIX = "SECRET_"
SCOPED_PREFIX = "LANNER_SECRET_"
_NAMESPACE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class SecretError(ValueError):
    """A secret that is not defined, not decodable or out of scope; the message says what to set."""


def env_scope(namespace: str) -> str:
    """How a namespace is spelled in ``LANNER_SECRET_<NAMESPACE>__<NAME>``: ``team.a-b`` -> ``TEAM_A_B``."""
    return re.sub(r"[.-]", "_", namespace).upper()


def _ancestors(namespace: str | None) -> list[str]:
    """``a.b.c`` -> ``["a.b.c", "a.b", "a"]`` (nearest first)."""
    if not namespace:
        return []
    parts = namespace.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


class SecretStore:
    """Looks secrets up for a namespace and remembers the values it knows, for masking."""

    def __init__(self, environ: dict[str, str] | None = None, file: str | Path | None = None):
        self._env = dict(os.environ if environ is None else environ)
        self._file_values: dict[str, str] = {}
        self._file_scoped: dict[str, dict[str, str]] = {}  # namespace -> name -> value
        path = file or self._env.get("LANNER_SECRETS_FILE")
        if path and Path(path).is_file():
            text = Path(path).read_text()
            data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
            if isinstance(data, dict):
                for key, value in data.items():
                    if isinstance(value, dict):
                        self._file_scoped[str(key)] = {str(k): str(v) for k, v in value.items() if not isinstance(v, dict)}
                    else:
                        self._file_values[str(key)] = str(value)
        self._env_scoped: dict[str, dict[str, str]] = {}  # ENV_SCOPE -> name -> raw base64
        for key, raw in self._env.items():
            if key.startswith(SCOPED_PREFIX) and "__" in key[len(SCOPED_PREFIX):]:
                scope, _, name = key[len(SCOPED_PREFIX):].partition("__")
                if scope and name:
                    self._env_scoped.setdefault(scope, {})[name] = raw
        self._used: set[str] = set()
        self._inputs: dict[str, tuple[str, ...]] = {}  # execution id -> values of its SECRET inputs
        self._by_length: tuple[str, ...] = ()  # _used and _inputs, longest first (read for every task run and log line)
        self._lock = threading.Lock()
        # Every known secret is masked, used or not: a script may read it from the env itself.
        for value in self._every_value():
            self._remember(value)

    # --- lookup ------------------------------------------------------------------------------------

    def names(self, namespace: str | None = None) -> list[str]:
        """Names a flow of ``namespace`` can read (global ones only when ``namespace`` is None)."""
        found = {k[len(GLOBAL_PREFIX):] for k in self._env if k.startswith(GLOBAL_PREFIX)} | set(self._file_values)
        for ns in _ancestors(namespace):
            found |= set(self._env_scoped.get(env_scope(ns), {})) | set(self._file_scoped.get(ns, {}))
        return sorted(found)

    def _scoped(self, name: str, namespace: str) -> str | None:
        if name in self._file_scoped.get(namespace, {}):
            return self._file_scoped[namespace][name]
        raw = self._env_scoped.get(env_scope(namespace), {}).get(name)
        if raw is None:
            return None
        var = f"{SCOPED_PREFIX}{env_scope(namespace)}__{name}"
        return self._decode(raw, var, name)

    def _global(self, name: str) -> str | None:
        if name in self._file_values:
            return self._file_values[name]
        raw = self._env.get(f"{GLOBAL_PREFIX}{name}")
        return None if raw is None else self._decode(raw, f"{GLOBAL_PREFIX}{name}", name)

    @staticmethod
    def _decode(raw: str, var: str, name: str) -> str:
        try:
            return base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretError(f"secret '{name}': {var} must hold the base64-encoded value") from None

    def lookup(self, name: str, namespace: str | None = None) -> str:
        """The value a flow of ``namespace`` gets for ``name``: its namespace's, a parent's, else the global one."""
        for ns in _ancestors(namespace):
            value = self._scoped(name, ns)
            if value is not None:
                return value
        value = self._global(name)
        if value is not None:
            return value
        where = f" for namespace {namespace}" if namespace else ""
        scoped = f", LANNER_SECRET_{env_scope(namespace)}__{name} (base64) for this namespace" if namespace else ""
        raise SecretError(f"secret '{name}' is not defined{where}: set the environment variable SECRET_{name} (base64){scoped}, "
                          "or add it to LANNER_SECRETS_FILE")

    def get(self, name: str, namespace: str | None = None, subkey: str | None = None) -> str:
        """``secret(name)`` for a flow of ``namespace``; ``subkey`` picks a field of a JSON secret (Kestra)."""
        value = self.lookup(str(name), namespace)
        self._remember(value)
        if subkey:
            try:
                data = json.loads(value)
            except json.JSONDecodeError:
                raise SecretError(f"secret '{name}' is not JSON, so it has no sub-key '{subkey}'") from None
            if not isinstance(data, dict) or subkey not in data:
                raise SecretError(f"secret '{name}' has no sub-key '{subkey}'")
            part = data[subkey]
            value = part if isinstance(part, str) else json.dumps(part)
            self._remember(value)
        return value

    def function(self, namespace: str | None) -> Any:
        """The ``secret(key, namespace=None, subkey=None)`` expression function of a flow of ``namespace``.

        ``namespace=`` may name the flow's own namespace or a parent of it (where
        the lookup then starts), never a sibling's: that is what scoping is for.
        """

        own = namespace

        def secret(key: str, namespace: str | None = None, subkey: str | None = None) -> str:
            start = own
            if namespace is not None and namespace != own:
                if not own or not _NAMESPACE.match(str(namespace)) or str(namespace) not in _ancestors(own):
                    raise SecretError(f"secret '{key}': a flow of namespace {own} cannot read the secrets of namespace {namespace}")
                start = str(namespace)
            return self.get(key, start, subkey)

        return secret

    @classmethod
    def of_values(cls, values: dict[str, str], mask: list[str] | None = None) -> SecretStore:
        """A store of already resolved ``{name: value}`` (a remote worker's view), masking ``mask`` too."""
        store = cls(environ={})
        store._file_values = dict(values)
        for value in [*values.values(), *(mask or [])]:
            store._remember(value)
        return store

    def visible(self, namespace: str | None) -> dict[str, str]:
        """Every secret a flow of ``namespace`` can read, by name (for workers on other machines)."""
        out: dict[str, str] = {}
        for name in self.names(namespace):
            try:
                out[name] = self.lookup(name, namespace)
            except SecretError:
                pass  # an undecodable one fails where it is used
        return out

    def _every_value(self) -> list[str]:
        values = list(self._file_values.values())
        for section in self._file_scoped.values():
            values += section.values()
        raws = [(k, v) for k, v in self._env.items() if k.startswith(GLOBAL_PREFIX)]
        raws += [(f"{SCOPED_PREFIX}{s}__{n}", v) for s, names in self._env_scoped.items() for n, v in names.items()]
        for var, raw in raws:
            try:
                values.append(self._decode(raw, var, var))
            except SecretError:
                pass
        return values

    # --- masking -----------------------------------------------------------------------------------

    def _remember(self, value: str) -> None:
        if len(value) >= MIN_SECRET:
            with self._lock:
                if value not in self._used:
                    self._used.add(value)
                    self._sort()

    def _sort(self) -> None:
        """Rebuild the list masked (with the lock held)."""
        self._by_length = tuple(sorted(self._used.union(*self._inputs.values()), key=len, reverse=True))

    def remember_inputs(self, execution_id: str, values: list[str]) -> None:
        """Mask the values of an execution's SECRET inputs (Kestra's ``type: SECRET``) until it ends.

        Unlike ``secret()`` values, which are few and kept for good, every
        execution may bring new ones: they are held only while their execution
        runs (:meth:`forget_inputs`), so the list masked does not grow for ever.
        What the execution stored meanwhile (logs, outputs) was masked as it was stored.
        """
        kept = tuple(v for v in values if len(v) >= MIN_SECRET)
        if kept:
            with self._lock:
                if self._inputs.get(execution_id) != kept:
                    self._inputs[execution_id] = kept
                    self._sort()

    def forget_inputs(self, execution_id: str) -> None:
        """Stop masking the SECRET input values of an execution that ended (or that another process took)."""
        with self._lock:
            if self._inputs.pop(execution_id, None) is not None:
                self._sort()

    def values(self) -> list[str]:
        """Every value to mask, longest first (a new list: a task's context adds the secrets it reads)."""
        return list(self._by_length)

    def mask(self, text: str) -> str:
        return mask_text(text, self._by_length) if self._by_length else text

    def mask_data(self, data: object, keep: Collection[str] = ()) -> Any:
        """``data`` masked; ``keep``: values to leave as they are (the SECRET inputs a subflow passes on)."""
        values = tuple(v for v in self._by_length if v not in keep) if keep else self._by_length
        return mask_data(data, values) if values else data
