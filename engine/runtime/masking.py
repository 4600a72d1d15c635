"""Masking secret values in text, data and files, in every spelling the engine itself can produce.

A secret reaches a log line, an output or a stored file either as it is or
through one of the encodings Lanner's own expression filters offer, so each
of these spellings is replaced by ``******`` wherever it appears:

* the value itself, in any letter case (``upper``, ``lower``, ``title``,
  ``capitalize``), and reversed (``reverse``);
* base64 (``base64encode``), standard and URL-safe, with or without
  padding, also when the secret sits at any byte offset inside a longer
  base64 text (``user:password`` of a basic-auth header);
* JSON-escaped (``toJson``), HTML-escaped (``escape``), URL-encoded
  (``urlencode``, ``%20`` or ``+`` for spaces), Python-``repr`` escaped, hex.

Reversed and hex forms are only masked for secrets of 6 characters or more,
where they cannot be mistaken for ordinary text. A secret printed in pieces
over several lines is caught as :func:`mask_text` explains.

What masking cannot catch: a secret transformed in ways that lose or hide
it (a hash such as ``sha256``, ``slugify``, ``abbreviate``, a substring
shorter than 8 characters, encryption, compression), two encodings stacked
(base64 of the upper-cased value), characters inserted between the
characters of the secret, and files a task writes itself (``outputFiles``)
unless the engine writes them (notebook reports). Masking is a safety net
against accidents, not a barrier against a flow author who wants to leak a
secret.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "******"
#: Shortest secret masked at all (shorter ones would hide ordinary words).
MIN_SECRET = 3
#: Shortest secret whose reversed and hex forms are masked too.
MIN_DERIVED = 6
#: Shortest piece of a secret (or of its base64 form) masked at the edge of a line.
MIN_FRAGMENT = 8
#: What may surround a wrapped piece at a line's edge (indentation, JSON quotes and commas).
_EDGE = " \t\r\"',;`"


def _html_forms(value: str) -> list[str]:
    """``escape`` (Jinja: ``&#34;``, ``&#39;``) and the stdlib's spelling (``&quot;``, ``&#x27;``)."""
    import html  # only once a secret is registered
    jinja = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
             .replace('"', "&#34;").replace("'", "&#39;"))
    return [jinja, html.escape(value), html.escape(value, quote=False)]


def _embedded_base64(data: bytes) -> list[str]:
    """The base64 characters that depend only on ``data``, for each of the 3 byte offsets it may start at.

    Inside a longer base64 text (``user:password`` of a basic-auth header) the
    secret's encoding depends on its offset modulo 3, and the characters at
    its two ends mix in the bytes around it: only the middle is knowable.
    """
    out = []
    for shift in (0, 1, 2):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        core = encoded[(8 * shift + 5) // 6 : (8 * (shift + len(data))) // 6]
        if len(core) >= MIN_FRAGMENT:
            out.append(core)
    return out


def forms(value: str) -> list[str]:
    """Every spelling of ``value`` to mask, longest first (duplicates and short ones dropped)."""
    raw = value.encode("utf-8", "surrogatepass")
    spellings = [value, value.upper(), value.lower(), json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
                 *_html_forms(value), quote_plus(value, safe=""), quote_plus(value, safe="*").replace("~", "%7E"),
                 quote(value, safe=""), repr(value)[1:-1]]
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        spellings += [encoded, encoded.rstrip("=")]
    spellings += _embedded_base64(raw)
    if len(value) >= MIN_DERIVED:
        spellings += [value[::-1], raw.hex()]
    unique = {s for s in spellings if len(s) >= MIN_SECRET}
    return sorted(unique, key=lambda s: (-len(s), s))


def _wrapped_forms(value: str) -> list[str]:
    """The spellings whose pieces are looked for at line edges (what wraps: the value, base64, JSON)."""
    b64 = base64.b64encode(value.encode("utf-8", "surrogatepass")).decode()
    return [value, b64, b64.rstrip("="), json.dumps(value)[1:-1]]


@lru_cache(maxsize=64)
def _compiled(values: tuple[str, ...]) -> tuple[re.Pattern[str] | None, tuple[str, ...], tuple[str, ...], frozenset[str]]:
    """For a set of secrets: the pattern of every spelling, those spellings lower-cased (a cheap first test),
    the spellings looked for in pieces, and every ``MIN_FRAGMENT``-character piece of those."""
    everything = sorted({f for v in values for f in forms(v)}, key=lambda s: (-len(s), s))
    pattern = re.compile("|".join(map(re.escape, everything)), re.IGNORECASE) if everything else None
    lowered = tuple(dict.fromkeys(f.lower() for f in everything))
    wrapped = tuple(dict.fromkeys(f for v in values for f in _wrapped_forms(v) if len(f) > MIN_FRAGMENT))
    grams = frozenset(f[i : i + MIN_FRAGMENT] for f in wrapped for i in range(len(f) - MIN_FRAGMENT + 1))
    return pattern, lowered, wrapped, grams


def _key(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET}, key=lambda s: (-len(s), s)))


def mask_text(text: str, values: Sequence[str]) -> str:
    """Mask every secret of ``values`` in ``text``: every spelling (see the module), then pieces split over lines.

    A secret can also reach the log in pieces, one per line (``textwrap``,
    ``base64.encodebytes``, two prints): each line is looked at on its own
    (logs arrive line by line, there is no window to buffer), and a piece of
    the value, its base64 or JSON form of at least ``MIN_FRAGMENT``
    characters is masked when it is the whole line, ends the line (the head
    of a secret) or starts it (its tail), ignoring indentation and JSON
    quotes. Limits: pieces shorter than ``MIN_FRAGMENT`` characters stay
    visible (a secret of fewer than 16 characters split in two always leaves
    one), as do pieces in the middle of a line between other text. A line
    that happens to end with 8+ characters of a secret is masked too.
    """
    if not values or not text:
        return text
    pattern, lowered, wrapped, grams = _compiled(_key(values))
    if pattern is None:
        return text
    low = text.lower()
    if not text.isascii() or any(f in low for f in lowered):  # most text holds no secret: skip the regex
        text = pattern.sub(MASK, text)
    if not grams:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        core = line.strip(_EDGE)
        # A piece at a line's edge shares its first or last MIN_FRAGMENT characters with a spelling.
        if len(core) >= MIN_FRAGMENT and (core[:MIN_FRAGMENT] in grams or core[-MIN_FRAGMENT:] in grams):
            lines[i] = _mask_edges(line, wrapped)
    return "\n".join(lines)


def _mask_edges(line: str, forms: Sequence[str]) -> str:
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


def mask_data(data: object, values: Sequence[str]) -> Any:
    """Mask every string inside dicts and lists, keys included (stored outputs, API answers)."""
    if not values:
        return data
    if isinstance(data, str):
        return mask_text(data, values)
    if isinstance(data, dict):
        return {(mask_text(k, values) if isinstance(k, str) else k): mask_data(v, values) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_data(v, values) for v in data]
    return data


def mask_file(path: str | Path, values: Sequence[str]) -> bool:
    """Mask a file the engine wrote itself (a notebook, its HTML report), in place; True when it changed.

    JSON files (``.ipynb``, ``.json``) are masked value by value, so they stay
    valid JSON; other text files line by line. Binary files are left alone.
    """
    if not values:
        return False
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if p.suffix.lower() in (".ipynb", ".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            masked = mask_text(text, values)
        else:
            masked_data = mask_data(data, values)
            if masked_data == data:
                return False
            masked = json.dumps(masked_data, indent=1, ensure_ascii=False) + "\n"
    else:
        masked = mask_text(text, values)
    if masked == text:
        return False
    p.write_text(masked, encoding="utf-8")
    return True
