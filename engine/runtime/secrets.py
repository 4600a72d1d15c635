"""Secrets: ``{{ secret('NAME') }}`` and masking them wherever text leaves a task.

Like Kestra's open-source edition, secrets come from environment variables
``SECRET_<NAME>`` holding the base64-encoded value; ``LANNER_SECRETS_FILE`` may
name a YAML/JSON file of plain ``NAME: value`` pairs. Every value handed out is
remembered so logs and outputs can mask it (verbatim and base64 forms).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from pathlib import Path
from typing import Any

import yaml

MASK = "******"


class SecretError(ValueError):
    """A secret that is not defined or not decodable; the message says what to set."""


class SecretStore:
    """Looks secrets up and remembers the values it returned, for masking."""

    def __init__(self, environ: dict[str, str] | None = None, file: str | Path | None = None):
        self._env = dict(os.environ if environ is None else environ)
        self._file_values: dict[str, str] = {}
        path = file or self._env.get("LANNER_SECRETS_FILE")
        if path and Path(path).is_file():
            text = Path(path).read_text()
            data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
            if isinstance(data, dict):
                self._file_values = {str(k): str(v) for k, v in data.items()}
        self._used: set[str] = set()
        self._lock = threading.Lock()
        # Every known secret is masked, used or not: a script may read it from the env itself.
        for name in self.names():
            try:
                self._remember(self._lookup(name))
            except SecretError:
                pass

    def names(self) -> list[str]:
        env = [k[len("SECRET_"):] for k in self._env if k.startswith("SECRET_")]
        return sorted(set(env) | set(self._file_values))

    def _lookup(self, name: str) -> str:
        if name in self._file_values:
            return self._file_values[name]
        raw = self._env.get(f"SECRET_{name}")
        if raw is None:
            raise SecretError(f"secret '{name}' is not defined: set the environment variable SECRET_{name} (base64) or add it to LANNER_SECRETS_FILE")
        try:
            return base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretError(f"secret '{name}': SECRET_{name} must hold the base64-encoded value") from None

    def _remember(self, value: str) -> None:
        if len(value) >= 3:
            with self._lock:
                self._used.add(value)

    def get(self, name: str) -> str:
        value = self._lookup(str(name))
        self._remember(value)
        return value

    def values(self) -> list[str]:
        with self._lock:
            return sorted(self._used, key=len, reverse=True)

    def mask(self, text: str) -> str:
        return mask_text(text, self.values())

    def mask_data(self, data: Any) -> Any:
        return mask_data(data, self.values()) if self._used else data


def mask_data(data: Any, values: list[str]) -> Any:
    """Mask every string inside dicts and lists (stored outputs, API answers) like a log line."""
    if isinstance(data, str):
        return mask_text(data, values)
    if isinstance(data, dict):
        return {k: mask_data(v, values) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_data(v, values) for v in data]
    return data


def _forms(value: str) -> list[str]:
    b64 = base64.b64encode(value.encode()).decode()
    forms = [value, b64, b64.rstrip("=")]
    escaped = json.dumps(value)[1:-1]
    if escaped != value:
        forms.append(escaped)
    return forms


#: Shortest piece of a secret (or of its base64 form) masked at the edge of a line.
MIN_FRAGMENT = 8
#: What may surround a wrapped piece at a line's edge (indentation, JSON quotes and commas).
_EDGE = " \t\r\"',;`"


def mask_text(text: str, values: list[str]) -> str:
    """Mask every secret of ``values`` in ``text``: whole forms, then pieces split over lines.

    Whole forms (verbatim, base64 with and without padding, JSON-escaped) are
    replaced anywhere. A secret can also reach the log in pieces, one per line
    (``textwrap``, ``base64.encodebytes``, two prints): each line is looked at
    on its own (logs arrive line by line, there is no window to buffer), and a
    piece of a form of at least ``MIN_FRAGMENT`` characters is masked when it
    is the whole line, ends the line (the head of a secret) or starts it (its
    tail), ignoring indentation and JSON quotes. Limits: pieces shorter than
    ``MIN_FRAGMENT`` characters stay visible (a secret of fewer than 16
    characters split in two always leaves one), as do pieces in the middle of
    a line between other text, and encodings other than base64 and JSON.
    A line that happens to end with 8+ characters of a secret is masked too.
    """
    if not values or not text:
        return text
    forms = [f for v in sorted(values, key=len, reverse=True) for f in _forms(v)]
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    long_forms = [f for f in forms if len(f) > MIN_FRAGMENT]
    if not long_forms:
        return text
    return "\n".join(_mask_edges(line, long_forms) if len(line.strip(_EDGE)) >= MIN_FRAGMENT else line
                     for line in text.split("\n"))


def _mask_edges(line: str, forms: list[str]) -> str:
    """Mask pieces of ``forms`` that make up, end or start ``line`` (see :func:`mask_text`)."""
    for form in forms:
        core = line.strip(_EDGE)
        if len(core) < MIN_FRAGMENT:
            break
        start = line.find(core)
        before, after = line[:start], line[start + len(core):]
        if core in form:
            line = before + MASK + after
            continue
        head = form[:MIN_FRAGMENT]  # the line ends with the start of the secret
        i = core.find(head)
        while i >= 0:
            if form.startswith(core[i:]):
                core = core[:i] + MASK
                break
            i = core.find(head, i + 1)
        tail = form[-MIN_FRAGMENT:]  # the line starts with the end of the secret
        j = core.rfind(tail)
        while j >= 0:
            if form.endswith(core[: j + MIN_FRAGMENT]):
                core = MASK + core[j + MIN_FRAGMENT:]
                break
            j = core.rfind(tail, 0, j + MIN_FRAGMENT - 1)
        line = before + core + after
    return line
