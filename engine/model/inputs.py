"""Typed flow inputs (Kestra's model): their definition and the coercion of raw values.

Raw values come as strings from the CLI (``--input age=42``), as JSON values
from the API, or from a definition's ``defaults``; all three go through the
same coercion code, so a default that would be refused at run time is
refused when the flow is saved instead.
"""

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from engine.model.base import LannerModel
from engine.model.durations import format_duration, parse_duration
from engine.model.yaml_loader import YamlError, load_any_yaml

InputType = Literal[
    "STRING", "INT", "FLOAT", "BOOLEAN", "SELECT", "MULTISELECT", "DATETIME", "DATE", "TIME",
    "DURATION", "JSON", "YAML", "URI", "FILE", "SECRET", "ARRAY",
]
ItemType = Literal["STRING", "INT", "FLOAT", "BOOLEAN", "DATETIME", "DATE", "TIME", "DURATION", "JSON"]
INPUT_TYPES: tuple[str, ...] = get_args(InputType)
ITEM_TYPES: tuple[str, ...] = get_args(ItemType)

#: The store_file callback: (input id, local file) -> URI of the copy in internal storage.
StoreFile = Callable[[str, Path], str]

_NUMERIC = ("INT", "FLOAT", "DURATION")
_TEMPORAL = ("DATETIME", "DATE", "TIME")
_CHOICE = ("SELECT", "MULTISELECT")
#: Rule field -> the input types it applies to. Also published in the JSON schema (``appliesTo``).
_RULES: dict[str, tuple[str, ...]] = {
    "validator": ("STRING", "SECRET"),
    "min": _NUMERIC,
    "max": _NUMERIC,
    "after": _TEMPORAL,
    "before": _TEMPORAL,
    "min_length": ("STRING",),
    "max_length": ("STRING",),
    "values": _CHOICE,
    "allow_custom_value": _CHOICE,
    "item_type": ("ARRAY",),
}
_BLANK_IS_VALUE = ("STRING", "SECRET")  # for other types an empty string means "not given"


class InputError(ValueError):
    """One bad input value; the message names the input and the rule it breaks."""

    def __init__(self, message: str, input_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.input_id = input_id

    @property
    def errors(self) -> list["InputError"]:
        """Every error carried (just this one); :class:`InputErrors` carries several."""
        return [self]


class InputErrors(InputError):
    """Several bad inputs at once; ``str()`` lists them one per line."""

    def __init__(self, errors: list[InputError]):
        super().__init__("\n".join(e.message for e in errors), None)
        self._errors = list(errors)

    @property
    def errors(self) -> list[InputError]:
        return list(self._errors)


class _Reject(Exception):
    """Why a value does not fit (no input name yet; the caller adds it)."""


def _applies(field: str) -> dict[str, Any]:
    return {"appliesTo": list(_RULES[field])}


def _join(names: Iterable[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class Input(LannerModel):
    """A typed input of a flow, with the rules its values must follow."""

    id: str = Field(
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*(\.[a-zA-Z0-9][a-zA-Z0-9_-]*)*$",
        max_length=100,
        description="Name of the input, used as {{ inputs.<id> }}; dots nest it ({{ inputs.request.name }} for request.name).",
    )
    type: InputType = Field(description="Type of the value; decides the coercion and which rules apply.")
    description: str | None = Field(default=None, description="Markdown help shown next to the field.")
    display_name: str | None = Field(default=None, description="Label shown in forms instead of the id.")
    required: bool = Field(default=True, description="An execution cannot start without a value (or a default).")
    defaults: Any = Field(default=None, description="Value used when none is given; follows the same rules as a given value.")
    prefill: Any = Field(
        default=None,
        description="Initial value of the form field (Kestra 1.1), which people may clear: unlike defaults, it is not "
        "used when an execution is started without this input (API, CLI, triggers). Cannot be combined with defaults.",
    )
    validator: str | None = Field(default=None, description="Regular expression the whole value must match.", json_schema_extra=_applies("validator"))
    min: int | float | str | None = Field(default=None, description="Smallest allowed value (a number, or an ISO-8601 duration for DURATION).", json_schema_extra=_applies("min"))
    max: int | float | str | None = Field(default=None, description="Largest allowed value (a number, or an ISO-8601 duration for DURATION).", json_schema_extra=_applies("max"))
    after: str | None = Field(default=None, description="Earliest allowed value, in ISO-8601 (the value may equal it).", json_schema_extra=_applies("after"))
    before: str | None = Field(default=None, description="Latest allowed value, in ISO-8601 (the value may equal it).", json_schema_extra=_applies("before"))
    min_length: int | None = Field(default=None, ge=0, description="Fewest characters allowed.", json_schema_extra=_applies("min_length"))
    max_length: int | None = Field(default=None, ge=0, description="Most characters allowed.", json_schema_extra=_applies("max_length"))
    values: list[str] | None = Field(default=None, description="The choices offered.", json_schema_extra=_applies("values"))
    allow_custom_value: bool = Field(default=False, description="Accept values that are not among the choices.", json_schema_extra=_applies("allow_custom_value"))
    item_type: ItemType | None = Field(default=None, description="Type of every item of the array.", json_schema_extra=_applies("item_type"))
    depends_on: Any = Field(default=None, description="Inputs this one depends on in forms (Kestra's dependsOn); kept as given.")

    @model_validator(mode="before")
    @classmethod
    def _kestra_spellings(cls, data: object) -> object:
        """Kestra's older ``name`` (now ``id``) and its ``ENUM`` (now ``SELECT``) and ``BOOL`` (a toggle for a
        BOOLEAN) types; validation warns about the deprecated ones."""
        if isinstance(data, dict):
            if "name" in data and "id" not in data:
                data = {("id" if k == "name" else k): v for k, v in data.items()}
            kind = data.get("type")
            alias = {"ENUM": "SELECT", "BOOL": "BOOLEAN"}.get(kind) if isinstance(kind, str) else None
            if alias:
                data = {**data, "type": alias}
        return data

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: object) -> Any:
        if isinstance(value, str) and value not in INPUT_TYPES:
            import difflib  # only for a misspelt name
            close = difflib.get_close_matches(value.upper(), INPUT_TYPES, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else f"; use one of {', '.join(INPUT_TYPES)}"
            raise ValueError(f"unknown input type '{value}'{hint}")
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, value: object) -> Any:
        # YAML `values: [1, 2]` means the choices "1" and "2", as in Kestra.
        if isinstance(value, list):
            return [_scalar_text(v) if isinstance(v, (int, float, bool)) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check_rules(self) -> "Input":
        problems: list[tuple[str, str, Any]] = []

        def bad(field: str, message: str) -> None:
            problems.append((field, f"input '{self.id}': {message}", getattr(self, field, None)))

        for field, types in _RULES.items():
            if field in self.model_fields_set and getattr(self, field) is not None and self.type not in types:
                bad(field, f"{_alias(field)} applies to {_join(types)} inputs, not {self.type}")
        if not problems:
            _check_type_rules(self, bad)
        if self.defaults is not None and self.prefill is not None:
            bad("prefill", "prefill and defaults cannot be used together: keep defaults for a value always used, "
                           "prefill for a form's initial value people may clear")
        for field, what in (("defaults", "the default value"), ("prefill", "the prefill value")):
            value = getattr(self, field)
            if problems or value is None or _is_expression(value):
                continue
            try:
                if self.type == "FILE":
                    _file_default(value)
                else:
                    _coerce(self, value, None)
            except _Reject as exc:
                bad(field, f"{what} is invalid: {exc}")
        if problems:
            raise ValidationError.from_exception_data(
                "Input",
                [
                    {"type": PydanticCustomError("input_rule", "{reason}", {"reason": msg}), "loc": (_alias(f),), "input": val}
                    for f, msg, val in problems
                ],
            )
        return self


def _alias(field: str) -> str:
    info = Input.model_fields.get(field)
    return (info.alias if info is not None and info.alias else field)


def _check_type_rules(d: Input, bad: Callable[[str, str], None]) -> None:
    """Rules that fit the type but are wrong in themselves (bad regex, min above max...)."""
    if d.validator is not None:
        try:
            re.compile(d.validator)
        except re.error as exc:
            bad("validator", f"validator is not a valid regular expression: {exc}")
    if d.type in _NUMERIC:
        # Numbers or durations, one kind per input: compared only with each other.
        bounds: dict[str, Any] = {}
        for field in ("min", "max"):
            raw = getattr(d, field)
            if raw is None:
                continue
            try:
                bounds[field] = _bound(d.type, raw)
            except _Reject as exc:
                bad(field, f"{field} {exc}")
        if len(bounds) == 2 and bounds["min"] > bounds["max"]:
            bad("min", f"min ({d.min}) is greater than max ({d.max})")
    if d.type in _TEMPORAL:
        bounds = {}
        for field in ("after", "before"):
            raw = getattr(d, field)
            if raw is None:
                continue
            try:
                bounds[field] = _parse_temporal(d.type, raw)
            except _Reject as exc:
                bad(field, f"{field} {exc}")
        if len(bounds) == 2 and bounds["after"] > bounds["before"]:
            bad("after", f"after ({d.after}) is later than before ({d.before})")
    if d.min_length is not None and d.max_length is not None and d.min_length > d.max_length:
        bad("min_length", f"minLength ({d.min_length}) is greater than maxLength ({d.max_length})")
    if d.type in _CHOICE:
        if not d.values:
            bad("values", f"{d.type} inputs need values: the list of choices")
        else:
            dupes = sorted({v for v in d.values if d.values.count(v) > 1})
            if dupes:
                bad("values", f"values lists {', '.join(repr(v) for v in dupes)} more than once")
    if d.type == "ARRAY" and d.item_type is None:
        bad("item_type", "ARRAY inputs need itemType (one of " + ", ".join(ITEM_TYPES) + ")")


def _bound(kind: str, raw: object) -> float | timedelta:
    if kind == "DURATION":
        try:
            return parse_duration(raw)
        except ValueError:
            raise _Reject(f"must be an ISO-8601 duration such as PT5M, not {raw!r}") from None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or (kind == "INT" and not float(raw).is_integer()):
        raise _Reject(f"must be {'a whole number' if kind == 'INT' else 'a number'} for {kind} inputs, not {raw!r}")
    return raw


def _is_expression(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _file_default(value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _Reject(f"{_show(value)} is not a file path or lanner:// URI")


# --- coercion --------------------------------------------------------------------------------


def _show(value: object) -> str:
    """A value as messages quote it: strings quoted, short."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(d: Input, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return _scalar_text(value)
    raise _Reject(f"{_show(value)} is not a string")


def _string(d: Input, value: object) -> str:
    text = _text(d, value)
    shown = "the value" if d.type == "SECRET" else _show(text)
    if d.min_length is not None and len(text) < d.min_length:
        raise _Reject(f"{shown} is shorter than {d.min_length} characters")
    if d.max_length is not None and len(text) > d.max_length:
        raise _Reject(f"{shown} is longer than {d.max_length} characters")
    if d.validator is not None and re.fullmatch(d.validator, text) is None:
        raise _Reject(f"{shown} does not match the pattern {d.validator!r}")
    return text


_INT_TEXT = re.compile(r"[-+]?\d+")


def _check_range(d: Input, value: Any, shown: str) -> None:
    low = _bound(d.type, d.min) if d.min is not None else None
    high = _bound(d.type, d.max) if d.max is not None else None
    if low is not None and value < low:
        raise _Reject(f"{shown} is below the minimum {d.min}")
    if high is not None and value > high:
        raise _Reject(f"{shown} is above the maximum {d.max}")


def _int(d: Input, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise _Reject(f"{_show(value)} is not an integer")
    _check_range(d, number, str(number))
    return number


def _float(d: Input, value: object) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise _Reject(f"{_show(value)} is not a number")
    _check_range(d, number, value.strip() if isinstance(value, str) else str(value))
    return number


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _boolean(d: Input, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Reject(f"{_show(value)} is not a boolean (use true or false)")


def _choice(d: Input, item: object) -> str:
    if isinstance(item, (dict, list)) or item is None:
        raise _Reject(f"{_show(item)} is not one of: {', '.join(d.values or [])}")
    text = _scalar_text(item)
    if not d.allow_custom_value and text not in (d.values or []):
        raise _Reject(f"{_show(text)} is not one of: {', '.join(d.values or [])}")
    return text


def _select(d: Input, value: object) -> str:
    return _choice(d, value)


def _multiselect(d: Input, value: object) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _Reject(f"{_show(value)} is not a JSON list ({exc.msg})") from None
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list):
        raise _Reject(f"{_show(value)} is not a list of choices")
    return [_choice(d, item) for item in value]


_TEMPORAL_NAMES = {
    "DATETIME": "an ISO-8601 date-time (such as 2024-01-31T09:30:00Z)",
    "DATE": "an ISO-8601 date (YYYY-MM-DD)",
    "TIME": "an ISO-8601 time (HH:MM or HH:MM:SS)",
}


def _parse_temporal(kind: str, value: object) -> datetime | date | time:
    """Parse DATETIME (aware, UTC), DATE or TIME (no offset); _Reject otherwise."""
    parsed: Any = None
    if kind == "DATETIME" and isinstance(value, datetime):
        parsed = value
    elif kind == "DATE" and isinstance(value, date) and not isinstance(value, datetime):
        parsed = value
    elif kind == "TIME" and isinstance(value, time):
        parsed = value
    elif isinstance(value, str):
        parser: type[date] | type[time] = {"DATETIME": datetime, "DATE": date, "TIME": time}[kind]
        try:
            parsed = parser.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if parsed is None or (kind == "TIME" and parsed.tzinfo is not None):
        raise _Reject(f"{_show(value)} is not {_TEMPORAL_NAMES[kind]}")
    if kind == "DATETIME":
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed


def _iso(value: datetime | date | time) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if isinstance(value, datetime) and text.endswith("+00:00") else text


def _temporal(d: Input, value: object) -> str:
    parsed = _parse_temporal(d.type, value)
    text = _iso(parsed)
    if d.after is not None and parsed < _parse_temporal(d.type, d.after):  # type: ignore[operator]
        raise _Reject(f"{text} is before the earliest allowed {d.after}")
    if d.before is not None and parsed > _parse_temporal(d.type, d.before):  # type: ignore[operator]
        raise _Reject(f"{text} is after the latest allowed {d.before}")
    return text


def _duration(d: Input, value: object) -> str:
    try:
        td = parse_duration(value.strip() if isinstance(value, str) else value)
    except ValueError as exc:
        raise _Reject(str(exc)) from None
    text = format_duration(td)
    _check_range(d, td, text)
    return text


def _json(d: Input, value: object) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise _Reject(f"{_show(value)} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None


def _yaml(d: Input, value: object) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return load_any_yaml(value)
    except YamlError as exc:
        raise _Reject(f"{_show(value)} is not valid YAML ({exc})") from None


def _uri(d: Input, value: object) -> str:
    text = _text(d, value).strip()
    parts = urlsplit(text)
    storage = parts.scheme in ("lanner", "kestra")
    if not (parts.scheme and (parts.netloc or storage)) or (storage and not text.startswith(parts.scheme + "://")):
        raise _Reject(f"{_show(value)} is not a URI with a scheme and a host (such as https://example.com/data.csv)")
    return text


def _array(d: Input, value: object) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise _Reject(f"{_show(value)} is not a JSON array (such as [1, 2, 3])") from None
    if not isinstance(value, list):
        raise _Reject(f"{_show(value)} is not a JSON array (such as [1, 2, 3])")
    item_def = Input.model_construct(id=d.id, type=d.item_type or "STRING")
    coerce = _COERCERS[item_def.type]
    out = []
    for i, item in enumerate(value):
        try:
            out.append(coerce(item_def, item))
        except _Reject as exc:
            raise _Reject(f"item {i}: {exc}") from None
    return out


_COERCERS: dict[str, Callable[[Input, Any], Any]] = {
    "STRING": _string,
    "SECRET": _string,
    "INT": _int,
    "FLOAT": _float,
    "BOOLEAN": _boolean,
    "SELECT": _select,
    "MULTISELECT": _multiselect,
    "DATETIME": _temporal,
    "DATE": _temporal,
    "TIME": _temporal,
    "DURATION": _duration,
    "JSON": _json,
    "YAML": _yaml,
    "URI": _uri,
    "ARRAY": _array,
}


def _file(d: Input, value: object, store_file: StoreFile | None) -> str:
    if isinstance(value, str) and value.startswith("lanner://"):
        return value
    if isinstance(value, str) and value.startswith("kestra://"):  # Kestra's spelling of the same URI
        return "lanner://" + value[len("kestra://"):]
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise _Reject(f"{_show(value)} is not a file path or lanner:// URI")
    path = Path(value).expanduser()
    if not path.exists():
        raise _Reject(f"file {_show(str(value))} does not exist")
    if not path.is_file():
        raise _Reject(f"{_show(str(value))} is not a file")
    path = path.resolve()
    if store_file is None:
        return str(path)
    try:
        return store_file(d.id, path)
    except OSError as exc:
        raise _Reject(f"file {_show(str(value))} could not be stored ({exc.strerror or exc})") from None


def _coerce(d: Input, value: object, store_file: StoreFile | None) -> Any:
    if d.type == "FILE":
        return _file(d, value, store_file)
    return _COERCERS[d.type](d, value)


def _missing(d: Input, value: object) -> bool:
    return value is None or (value == "" and d.type not in _BLANK_IS_VALUE)


def coerce_inputs(
    definitions: list[Input],
    raw: Mapping[str, Any],
    *,
    store_file: StoreFile | None = None,
    render: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Validate raw values against the flow's inputs and return typed values in declaration order.

    Missing optional inputs are present with None; a default that is an
    expression (``{{ now() }}``) is passed to ``render`` first when given.
    Raises :class:`InputError` for one problem, :class:`InputErrors` for several.
    """
    errors: list[InputError] = []
    declared = [d.id for d in definitions]
    known = set(declared)
    nested = any("." in name for name in declared)
    if nested:
        raw = _flatten_given(raw, known)
    for name in raw:
        if name not in known:
            listing = ", ".join(declared) if declared else "no inputs"
            errors.append(InputError(f"unknown input '{name}'; the flow declares: {listing}", name))
    out: dict[str, Any] = {}
    for d in definitions:
        value = raw.get(d.id)
        if _missing(d, value):
            value = d.defaults
            if render is not None and _is_expression(value):
                value = render(value)
        if _missing(d, value):
            if d.required:
                errors.append(InputError(f"input '{d.id}' is required", d.id))
            out[d.id] = None
            continue
        try:
            out[d.id] = _coerce(d, value, store_file)
        except _Reject as exc:
            errors.append(InputError(f"input '{d.id}': {exc}", d.id))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputErrors(errors)
    return nest(out) if nested else out


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values of dotted input ids as nested maps, as Kestra gives them: ``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _flatten_given(raw: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    """Given values keyed by dotted ids, whether they came flat (``request.name``) or nested (``request: {name}``)."""
    out: dict[str, Any] = {}

    def add(prefix: str, value: object) -> None:
        if prefix not in known and isinstance(value, Mapping) and any(k.startswith(prefix + ".") for k in known):
            for sub, inner in value.items():
                add(f"{prefix}.{sub}", inner)
        else:
            out[prefix] = value

    for key, value in raw.items():
        add(str(key), value)
    return out


def value_at(values: Mapping[str, Any], input_id: str) -> Any:
    """The value of input ``input_id`` in coerced inputs (nested for dotted ids)."""
    node: Any = values
    if input_id in values:
        return values[input_id]
    for part in input_id.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def check_ids(definitions: list[Any]) -> list[tuple[int, str]]:
    """(index, message) for inputs whose id is used twice, or nests under another input (``a`` and ``a.b``)."""
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for i, d in enumerate(definitions):
        input_id = getattr(d, "id", None)
        if not isinstance(input_id, str):
            continue
        if input_id in seen:
            problems.append((i, f"input id '{input_id}' is declared twice (first at inputs[{seen[input_id]}])"))
            continue
        for other, j in seen.items():
            if input_id.startswith(other + ".") or other.startswith(input_id + "."):
                problems.append((i, f"input '{input_id}' and input '{other}' (inputs[{j}]) cannot both exist: "
                                    "one would hold the other's value"))
        seen[input_id] = i
    return problems


def mask_secrets(definitions: list[Input], values: Mapping[str, Any]) -> list[str]:
    """The values of SECRET inputs, for the runtime to mask in logs (longest first)."""
    found = [value_at(values, d.id) for d in definitions if d.type == "SECRET"]
    secrets = {v for v in found if isinstance(v, str) and v}
    return sorted(secrets, key=lambda s: (-len(s), s))


def hide_secrets(definitions: Iterable[Input], values: Mapping[str, Any], marker: str) -> dict[str, Any]:
    """A copy of an execution's input ``values`` where each SECRET input's value reads ``marker``.

    Kestra never shows a SECRET input's value in the UI or API, whatever its
    length (the log masker leaves values under 3 characters alone; this does
    not). Dotted ids are found where :func:`value_at` finds them, flat or
    nested; only the maps on the way to a secret are copied, ``values`` is left
    as it is. An input given no value stays None: that it is unset tells nothing.
    """
    out = dict(values)
    for d in definitions:
        if d.type != "SECRET":
            continue
        if d.id in out:
            if out[d.id] is not None:
                out[d.id] = marker
            continue
        *parents, last = d.id.split(".")
        node = out
        for part in parents:
            child = node.get(part)
            if not isinstance(child, Mapping):
                break
            node[part] = dict(child)
            node = node[part]
        else:
            if node.get(last) is not None:
                node[last] = marker
    return out
