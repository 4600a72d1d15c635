"""Load flow YAML into plain data plus the line/column of every value.

Why not ``yaml.safe_load``: it forgets where values came from (so validation
errors could not say "line 14"), silently keeps the last of two duplicate
keys, follows YAML 1.1 (``on:`` becomes ``True``, ``2024-01-01`` a ``date``),
has no size or depth limits, and expands aliases without bound ("billion
laughs"). Here libyaml (C, when available) does the tokenising and parsing,
and a small composer builds plain data from its events with an explicit stack
(no recursion, so a deeply nested document cannot crash the interpreter),
resolving plain scalars with the YAML 1.2 core schema.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from typing import Any

import yaml

try:  # libyaml is ~10x faster; the pure Python parser gives the same events.
    from yaml import CSafeLoader as _EventLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _EventLoader  # type: ignore[assignment]

Path = tuple[str | int, ...]
Position = tuple[int, int]

#: The largest flow document (bytes): larger ones are refused before they are parsed.
MAX_DOCUMENT_BYTES = 2_000_000
#: Nodes that aliases may add to a document in total, whatever max_aliases says:
#: one alias of a huge anchored block must not blow up memory either.
MAX_ALIAS_NODES = 100_000

_TAG = "tag:yaml.org,2002:"
#: Merge keys are YAML 1.1 only; Kestra (Jackson) does not merge them either, it refuses '<<' as an unknown property.
_MERGE_KEY = ("YAML merge keys ('<<: *anchor') are not supported (Kestra refuses them too): write the keys out, "
              "or use pluginDefaults for properties shared by several tasks")


class YamlError(Exception):
    """A YAML document that cannot be loaded; ``line``/``column`` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message = message
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        if self.column is None:
            return f"line {self.line}: {self.message}"
        return f"line {self.line}, column {self.column}: {self.message}"


class PositionMap(Mapping[Path, Position]):
    """Where each value of a loaded document is, as 1-based ``(line, column)``.

    As a mapping it holds, for every path, the position of the mapping key for
    entries of a mapping and of the value itself for list items and the root.
    :meth:`position` is what error messages want: the value's position, with
    two refinements: a block collection under a key answers with the key's
    position (that is the line people look at), and a path that does not
    exist falls back to its nearest ancestor that does (a missing property is
    reported where its parent is). Values that came from an alias are known
    only as a whole: their inner paths fall back to the alias.
    """

    __slots__ = ("_keys", "_values", "_block")

    def __init__(self) -> None:
        self._keys: dict[Path, Position] = {}
        self._values: dict[Path, Position] = {}
        self._block: set[Path] = set()

    def __getitem__(self, path: Path) -> Position:
        path = tuple(path)
        pos = self._keys.get(path)
        if pos is None:
            pos = self._values[path]
        return pos

    def __iter__(self) -> Iterator[Path]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and path in self._values

    def key_position(self, path: Path) -> Position | None:
        """Position of the key of a mapping entry, or None (list items have no key)."""
        return self._keys.get(tuple(path))

    def value_position(self, path: Path) -> Position | None:
        """Exact position where the value at ``path`` starts, or None."""
        return self._values.get(tuple(path))

    def position(self, path: Path) -> Position | None:
        """Best position to show for ``path``; the nearest known ancestor if it is absent."""
        p = tuple(path)
        while True:
            pos = self._values.get(p)
            if pos is not None:
                if p in self._block:
                    return self._keys.get(p, pos)
                return pos
            if not p:
                return None
            p = p[:-1]


# --- scalars: YAML 1.2 core schema -----------------------------------------------------------

_CONSTANTS: dict[str, Any] = {
    "": None, "~": None, "null": None, "Null": None, "NULL": None,
    "true": True, "True": True, "TRUE": True,
    "false": False, "False": False, "FALSE": False,
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_NUMBER_START = frozenset("0123456789+-.")


def resolve_plain(text: str) -> Any:
    """The value of an untagged plain scalar under the YAML 1.2 core schema."""
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    if text[0] in _NUMBER_START:
        if _INT.fullmatch(text):
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            if len(text) > 4000:  # int() refuses ~4300+ digits; say so in YAML terms
                raise ValueError(f"an integer of {len(text)} digits is too long; quote it to keep it as text")
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
    return text


def _tagged(tag: str, text: str) -> Any:
    """A scalar with an explicit standard tag (``!!str 12``); other tags are refused."""
    if tag == "!" or tag == _TAG + "str":
        return text
    if not tag.startswith(_TAG) or tag[len(_TAG):] not in ("int", "float", "bool", "null"):
        short = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
        raise ValueError(f"the tag {short} is not supported; use plain values (tags allowed: !!str, !!int, !!float, !!bool, !!null)")
    kind = tag[len(_TAG):]
    value = resolve_plain(text) if text else None
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "null": value is None,
    }[kind]
    if not ok:
        raise ValueError(f"{text!r} is not a valid !!{kind}")
    return float(value) if kind == "float" and isinstance(value, (int, float)) else value


# --- composer --------------------------------------------------------------------------------


def _copy(value: object) -> Any:
    """Deep copy of plain data (faster than copy.deepcopy, and enough here)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a single value ({value!r})"


def _alias_error(message: str, pos: Position) -> YamlError:
    return YamlError(message + "; this is refused to stop documents that expand without bound", pos[0], pos[1])


def _compose(text: str, max_depth: int, max_aliases: int) -> tuple[Any, PositionMap]:
    """Build plain data and positions from the parser's events.

    This loop is the hot path of loading a flow (one pass per event), hence
    the local names and the open collection kept in plain local variables.
    """
    ScalarEvent, AliasEvent = yaml.ScalarEvent, yaml.AliasEvent
    MappingStartEvent, SequenceStartEvent = yaml.MappingStartEvent, yaml.SequenceStartEvent
    MappingEndEvent, SequenceEndEvent = yaml.MappingEndEvent, yaml.SequenceEndEvent
    try:
        loader = _EventLoader(text)
    except (UnicodeEncodeError, UnicodeDecodeError) as exc:  # lone surrogates cannot be encoded for the parser
        raise YamlError(f"the document is not valid Unicode text ({exc.reason} at offset {exc.start})") from None
    get_event = loader.get_event
    positions = PositionMap()
    keys, values, block = positions._keys, positions._values, positions._block
    anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, nodes inside, alias uses inside)
    # The open collection: its object, path, kind, pending key; outer ones wait on the stack.
    stack: list[tuple[Any, Path, bool, str | None, Position | None, str | None, int, int]] = []
    obj: Any = None
    path: Path = ()
    is_map = False
    key: str | None = None
    key_pos: Position | None = None
    anchor: str | None = None
    nodes0 = aliases0 = 0
    depth = 0
    nodes = alias_uses = alias_nodes = 0
    root: Any = None
    documents = 0
    try:
        while True:
            # Dispatch is on type(event) identity (the hot path), which mypy does not narrow on.
            event: Any = get_event()
            cls = type(event)
            if cls is ScalarEvent or cls is AliasEvent or cls is MappingStartEvent or cls is SequenceStartEvent:
                mark = event.start_mark
                pos = (mark.line + 1, mark.column + 1)
                if is_map:
                    if key is None:  # this node is a key
                        if cls is not ScalarEvent:
                            raise YamlError(
                                "mapping keys must be plain strings, not lists, mappings or aliases", pos[0], pos[1]
                            )
                        key = event.value
                        if key == "<<" and event.tag is None and event.implicit[0]:
                            raise YamlError(_MERGE_KEY, pos[0], pos[1])
                        if key in obj:
                            first = keys.get((*path, key))
                            where = f" (first defined at line {first[0]})" if first else ""
                            raise YamlError(
                                f"duplicate key '{key}'{where}; each key may appear once in a mapping", pos[0], pos[1]
                            )
                        key_pos = pos
                        continue
                    here: Path = (*path, key)
                    keys[here] = key_pos  # type: ignore[assignment]
                elif depth:
                    here = (*path, len(obj))
                else:
                    here = ()
                values[here] = pos
                nodes += 1
                if cls is ScalarEvent:
                    tag = event.tag
                    try:
                        if tag is None:
                            value = resolve_plain(event.value) if event.implicit[0] else event.value
                        else:
                            value = _tagged(tag, event.value)
                    except ValueError as exc:
                        raise YamlError(str(exc), pos[0], pos[1]) from None
                    if event.anchor is not None:
                        anchors[event.anchor] = (value, 1, 0)
                elif cls is AliasEvent:
                    found = anchors.get(event.anchor)
                    if found is None:
                        raise YamlError(
                            f"alias *{event.anchor} is not defined before this point (an anchor &{event.anchor} "
                            "must come first, and cannot be used inside itself)",
                            pos[0],
                            pos[1],
                        )
                    anchored, inner_nodes, inner_aliases = found
                    alias_uses += 1 + inner_aliases
                    if alias_uses > max_aliases:
                        raise _alias_error(
                            f"the document uses more than {max_aliases} aliases (an alias inside an aliased "
                            "value counts each time it is repeated)",
                            pos,
                        )
                    alias_nodes += inner_nodes
                    if alias_nodes > MAX_ALIAS_NODES:
                        raise _alias_error(f"aliases add more than {MAX_ALIAS_NODES:,} values to the document", pos)
                    nodes += inner_nodes - 1
                    value = _copy(anchored)
                else:
                    if depth >= max_depth:
                        raise YamlError(f"the document is nested deeper than {max_depth} levels", pos[0], pos[1])
                    value = {} if cls is MappingStartEvent else []
                    if is_map and not event.flow_style:
                        block.add(here)
                # Attach the value to the open collection.
                if is_map:
                    obj[key] = value
                    key = None
                elif depth:
                    obj.append(value)
                else:
                    root = value
                if cls is MappingStartEvent or cls is SequenceStartEvent:
                    if depth:
                        stack.append((obj, path, is_map, key, key_pos, anchor, nodes0, aliases0))
                    obj, path, is_map, key, anchor = value, here, cls is MappingStartEvent, None, event.anchor
                    nodes0, aliases0 = nodes, alias_uses
                    depth += 1
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                if anchor is not None:
                    anchors[anchor] = (obj, nodes - nodes0 + 1, alias_uses - aliases0)
                depth -= 1
                if depth:
                    obj, path, is_map, key, key_pos, anchor, nodes0, aliases0 = stack.pop()
                else:
                    is_map = False
            elif cls is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    mark = event.start_mark
                    raise YamlError(
                        "a flow file holds a single YAML document; remove the second '---'", mark.line + 1, mark.column + 1
                    )
            elif cls is yaml.StreamEndEvent:
                break
    except yaml.MarkedYAMLError as exc:
        if _is_parser_depth_limit(exc):
            raise _depth_error(exc, text, max_depth, max_aliases) from None
        raise _from_pyyaml(exc, text) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, by offset
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlError(f"character #x{exc.character:04x} is not allowed in YAML ({exc.reason})", line, column) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).strip()) from None
    finally:
        loader.dispose()
    return root, positions


def _is_parser_depth_limit(exc: yaml.MarkedYAMLError) -> bool:
    """libyaml >= 0.2.5 (wheels of PyYAML 6.0.3+) refuses deep nesting in its scanner, which reads
    ahead of the events, so its refusal can come before this composer's own depth check speaks."""
    return "maximum nesting depth" in (exc.problem or "")


def _depth_error(exc: yaml.MarkedYAMLError, text: str, max_depth: int, max_aliases: int) -> YamlError:
    """Lanner's own depth error, at the same place, whatever libyaml version refused the document.

    The text before libyaml's refusal point nests no deeper than libyaml allows, so composing it
    again reaches this composer's depth check (at the collection that goes one level too deep);
    if that prefix is fine (a max_depth above libyaml's own limit), the refusal point is reported.
    """
    mark = exc.problem_mark
    index = getattr(mark, "index", None)
    if isinstance(index, int) and 0 < index <= len(text):
        try:
            _compose(text[:index], max_depth, max_aliases)
        except YamlError as inner:
            if "nested deeper than" in inner.message:
                return inner
    message = f"the document is nested deeper than {max_depth} levels"
    return YamlError(message) if mark is None else YamlError(message, mark.line + 1, mark.column + 1)


def _from_pyyaml(exc: yaml.MarkedYAMLError, text: str) -> YamlError:
    """libyaml's problem as one sentence, with the context when it points elsewhere."""
    mark = exc.problem_mark or exc.context_mark
    message = (exc.problem or exc.context or "invalid YAML").strip()
    index = getattr(mark, "index", None)
    if "tab" not in message and isinstance(index, int) and 0 <= index < len(text) and text[index] == "\t":
        message += " (a tab; indent YAML with spaces)"
    context = exc.context_mark
    if exc.context and context is not None and exc.problem and (mark is None or context.line != mark.line):
        message += f" ({exc.context} at line {context.line + 1})"
    if mark is None:
        return YamlError(message)
    return YamlError(message, mark.line + 1, mark.column + 1)


def _to_text(text: str | bytes, max_bytes: int) -> str:
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text)
        size = len(raw)
    else:
        raw = None
        # Cheap exact test first: a str never has more UTF-8 bytes than 4 per character.
        size = len(text) if len(text) * 4 <= max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise YamlError(f"the document is {size:,} bytes, more than the limit of {max_bytes:,} bytes")
    if raw is None:
        return text  # type: ignore[return-value]
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlError(f"the document is not UTF-8 text (invalid byte at offset {exc.start})") from None


def read_document(path: str | os.PathLike[str], *, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The text of a YAML file, read no further than the size limit (``/dev/zero`` is refused at once).

    Raises :class:`YamlError` for a file over the limit or not UTF-8 (binary)
    and OSError when it cannot be read.
    """
    with open(path, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise YamlError(f"the file is larger than the limit of {max_bytes:,} bytes for a flow")
    return _to_text(raw, max_bytes)


def load_any_yaml(text: str | bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES, max_depth: int = 100, max_aliases: int = 100) -> Any:
    """Plain data of any YAML document (a YAML input's value, say), with the same limits; empty is None."""
    data, _ = _compose(_to_text(text, max_bytes), max_depth, max_aliases)
    return data


def load_yaml(
    text: str | bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES, max_depth: int = 100, max_aliases: int = 100
) -> tuple[Any, PositionMap]:
    """Parse a flow document into plain data and the positions of its values.

    Raises :class:`YamlError` (one sentence, with line and column where known)
    for syntax errors, duplicate keys, unsupported tags, documents over the
    limits, an empty document, or a top level that is not a mapping.
    """
    data, positions = _compose(_to_text(text, max_bytes), max_depth, max_aliases)
    if data is None:
        raise YamlError("the flow is empty", 1, 1)
    if not isinstance(data, dict):
        line, column = positions.value_position(()) or (1, 1)
        raise YamlError(f"a flow must be a mapping of properties (id, namespace, tasks...), not {_kind(data)}", line, column)
    return data, positions


# --- dumping --------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, key order kept, no aliases, lists indented under their key (Kestra's look)."""

    def ignore_aliases(self, data: object) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def resolve(self, kind: type[yaml.Node], value: object, implicit: tuple[bool, bool]) -> str:
        # The loader reads YAML 1.2 and PyYAML's resolver knows YAML 1.1: a string
        # is left unquoted only if neither would read it as something else.
        if kind is yaml.ScalarNode and implicit[0] and isinstance(value, str) and value:
            try:
                resolved = resolve_plain(value)
            except ValueError:  # an integer too long for int(): still not a plain string
                return _TAG + "int"
            if not isinstance(resolved, str):
                if isinstance(resolved, bool):
                    return _TAG + "bool"
                if resolved is None:
                    return _TAG + "null"
                return _TAG + ("int" if isinstance(resolved, int) else "float")
        return super().resolve(kind, value, implicit)


#: Line breaks other than \n (a str, not a regex: compiling this class of non-ASCII characters took 0.5 ms of every start).
_ODD_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Line breaks other than \n: only double quotes (escapes) keep them exactly.
    style = '"' if any(b in value for b in _ODD_BREAKS) else "|" if "\n" in value else None
    return dumper.represent_scalar(_TAG + "str", value, style=style)


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    if math.isnan(value):
        text = ".nan"
    elif math.isinf(value):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value)  # shortest text that reads back to the same float
    return dumper.represent_scalar(_TAG + "float", text)


def _represent_temporal(dumper: yaml.SafeDumper, value: date | datetime | time) -> yaml.ScalarNode:
    return _represent_str(dumper, value.isoformat())


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(float, _represent_float)
_Dumper.add_representer(tuple, yaml.SafeDumper.represent_list)
_Dumper.add_representer(date, _represent_temporal)
_Dumper.add_representer(datetime, _represent_temporal)
_Dumper.add_representer(time, _represent_temporal)


def dump_yaml(data: object) -> str:
    """Readable block YAML of plain data that :func:`load_yaml` reads back to equal data."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=math.inf,
        indent=2,
    )
