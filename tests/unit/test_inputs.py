"""Typed flow inputs: definition rules and coercion of raw values (CLI strings, JSON values, defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from engine.model.inputs import Input, InputError, InputErrors, coerce_inputs, hide_secrets, mask_secrets


def one(raw: Any, **definition: Any) -> Any:
    """Coerce a single value for an input defined by ``definition`` (id defaults to 'x')."""
    d = Input.model_validate({"id": "x", **definition})
    return coerce_inputs([d], {} if raw is None else {d.id: raw})[d.id]


def refused(raw: Any, **definition: Any) -> str:
    with pytest.raises(InputError) as info:
        one(raw, **definition)
    assert info.value.input_id == definition.get("id", "x")
    return str(info.value)


# --- coercion, type by type ---------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("12", 12), (" -3 ", -3), (7, 7), (8.0, 8)])
def test_int_valid(raw: Any, expected: int) -> None:
    value = one(raw, type="INT")
    assert value == expected and type(value) is int


@pytest.mark.parametrize("raw", ["1.5", 1.5, True, "abc", "", [1]])
def test_int_invalid(raw: Any) -> None:
    if raw == "":
        assert refused(raw, type="INT") == "input 'x' is required"  # blank means not given
    else:
        assert "is not an integer" in refused(raw, type="INT")


def test_int_bounds() -> None:
    assert refused("150", id="age", type="INT", min=0, max=120) == "input 'age': 150 is above the maximum 120"
    assert refused(-1, id="age", type="INT", min=0) == "input 'age': -1 is below the minimum 0"
    assert one("120", type="INT", min=0, max=120) == 120


def test_float() -> None:
    assert one("1.5", type="FLOAT") == 1.5
    assert one(2, type="FLOAT") == 2.0 and isinstance(one(2, type="FLOAT"), float)
    assert "'abc' is not a number" in refused("abc", type="FLOAT")
    assert "is not a number" in refused("nan", type="FLOAT")
    assert "is not a number" in refused(False, type="FLOAT")
    assert refused("9.5", type="FLOAT", max=9.25) == "input 'x': 9.5 is above the maximum 9.25"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (False, False), ("true", True), ("False", False), ("1", True), ("0", False),
     ("yes", True), ("NO", False), (1, True), (0, False)],
)
def test_boolean_valid(raw: Any, expected: bool) -> None:
    assert one(raw, type="BOOLEAN") is expected


@pytest.mark.parametrize("raw", ["maybe", 2, [True]])
def test_boolean_invalid(raw: Any) -> None:
    assert "is not a boolean" in refused(raw, type="BOOLEAN")


def test_string_rules() -> None:
    assert one("abc", type="STRING") == "abc"
    assert one(12, type="STRING") == "12"
    assert one("", type="STRING", required=True) == ""  # an empty string is a value for STRING
    assert "is not a string" in refused({"a": 1}, type="STRING")
    assert refused("ab", id="code", type="STRING", minLength=3) == "input 'code': 'ab' is shorter than 3 characters"
    assert "longer than 4 characters" in refused("abcde", type="STRING", maxLength=4)
    assert one("1234", type="STRING", validator=r"\d+") == "1234"
    message = refused("12a", type="STRING", validator=r"\d+")
    assert "'12a' does not match the pattern" in message
    # fullmatch: a prefix match is not enough
    assert "does not match" in refused("12 ", type="STRING", validator=r"\d+")


def test_secret_is_kept_as_text_and_never_quoted_in_errors() -> None:
    assert one("s3cr3t", type="SECRET") == "s3cr3t"
    message = refused("hunter2", id="token", type="SECRET", validator="[a-z]+")
    assert "hunter2" not in message
    assert message == "input 'token': the value does not match the pattern '[a-z]+'"


def test_select() -> None:
    assert one("dev", type="SELECT", values=["dev", "prod"]) == "dev"
    assert refused("prd", id="env", type="SELECT", values=["dev", "prod"]) == "input 'env': 'prd' is not one of: dev, prod"
    assert one("other", type="SELECT", values=["dev"], allowCustomValue=True) == "other"
    assert one(2, type="SELECT", values=[1, 2]) == "2"


@pytest.mark.parametrize(("raw", "expected"), [(["a", "b"], ["a", "b"]), ('["b"]', ["b"]), ("a, b", ["a", "b"]), ("a", ["a"])])
def test_multiselect_valid(raw: Any, expected: list[str]) -> None:
    assert one(raw, type="MULTISELECT", values=["a", "b", "c"]) == expected


def test_multiselect_invalid() -> None:
    assert "'d' is not one of: a, b" in refused("a,d", type="MULTISELECT", values=["a", "b"])
    assert "is not a list" in refused(5, type="MULTISELECT", values=["a"])
    assert "is not a JSON list" in refused("[a", type="MULTISELECT", values=["a"])
    assert one("a,z", type="MULTISELECT", values=["a"], allowCustomValue=True) == ["a", "z"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-31T09:30:00Z", "2024-01-31T09:30:00Z"),
        ("2024-01-31T09:30:00", "2024-01-31T09:30:00Z"),  # naive means UTC
        ("2024-01-31T11:30:00+02:00", "2024-01-31T09:30:00Z"),
        ("2024-01-31T09:30:00.250Z", "2024-01-31T09:30:00.250000Z"),
    ],
)
def test_datetime_valid(raw: str, expected: str) -> None:
    assert one(raw, type="DATETIME") == expected


def test_datetime_invalid_and_bounds() -> None:
    assert refused("2024-13-01", id="when", type="DATETIME").startswith(
        "input 'when': '2024-13-01' is not an ISO-8601 date-time"
    )
    assert "is not an ISO-8601 date-time" in refused(12, type="DATETIME")
    rules = {"type": "DATETIME", "after": "2024-01-01T00:00:00Z", "before": "2024-12-31T23:59:59Z"}
    assert one("2024-01-01T00:00:00Z", **rules) == "2024-01-01T00:00:00Z"  # bounds are inclusive
    assert "is before the earliest allowed 2024-01-01T00:00:00Z" in refused("2023-12-31T23:00:00Z", **rules)
    assert "is after the latest allowed" in refused("2025-01-01T00:00:00Z", **rules)


def test_date_and_time() -> None:
    assert one("2024-02-29", type="DATE") == "2024-02-29"
    assert "is not an ISO-8601 date" in refused("2023-02-29", type="DATE")
    assert "is not an ISO-8601 date" in refused("2024-01-01T10:00:00", type="DATE")
    assert "is before the earliest allowed 2024-01-01" in refused("2023-06-01", type="DATE", after="2024-01-01")
    assert one("09:30", type="TIME") == "09:30:00"
    assert one("09:30:15", type="TIME") == "09:30:15"
    assert "is not an ISO-8601 time" in refused("25:00", type="TIME")
    assert "is not an ISO-8601 time" in refused("09:30+02:00", type="TIME")
    assert "is after the latest allowed 17:00" in refused("18:00", type="TIME", before="17:00")


def test_duration() -> None:
    assert one("PT90S", type="DURATION") == "PT1M30S"
    assert one(" p1d ", type="DURATION") == "P1D"
    assert "is not an ISO-8601 duration" in refused("5 minutes", type="DURATION")
    assert refused("PT2H", id="d", type="DURATION", max="PT1H") == "input 'd': PT2H is above the maximum PT1H"
    assert "is below the minimum PT1M" in refused("PT30S", type="DURATION", min="PT1M")


def test_json_and_yaml() -> None:
    assert one('{"a": [1, 2]}', type="JSON") == {"a": [1, 2]}
    assert one([1, {"b": None}], type="JSON") == [1, {"b": None}]
    assert "is not valid JSON" in refused("{a: 1}", type="JSON")
    assert one("a: 1\nb: [x, 2024-01-01]\n", type="YAML") == {"a": 1, "b": ["x", "2024-01-01"]}
    assert one({"kept": True}, type="YAML") == {"kept": True}
    assert "is not valid YAML" in refused("a: b: c", type="YAML")
    assert "is not valid YAML" in refused("a: &a [1]\nb: [" + ", ".join(["*a"] * 200) + "]", type="YAML")


def test_uri() -> None:
    assert one("https://example.com/data.csv", type="URI") == "https://example.com/data.csv"
    assert one("lanner://company/flow/file.csv", type="URI") == "lanner://company/flow/file.csv"
    for bad in ("example.com/data.csv", "/local/path", "https://", "mailto"):
        assert "is not a URI" in refused(bad, type="URI")


def test_array() -> None:
    assert one("[1, 2, 3]", type="ARRAY", itemType="INT") == [1, 2, 3]
    assert one(["1", 2], type="ARRAY", itemType="INT") == [1, 2]
    assert one('["2024-01-01T00:00:00"]', type="ARRAY", itemType="DATETIME") == ["2024-01-01T00:00:00Z"]
    assert one(["PT60S"], type="ARRAY", itemType="DURATION") == ["PT1M"]
    assert refused('[1, "x"]', id="ids", type="ARRAY", itemType="INT") == "input 'ids': item 1: 'x' is not an integer"
    assert "is not a JSON array" in refused("1,2", type="ARRAY", itemType="INT")
    assert "is not a JSON array" in refused({"a": 1}, type="ARRAY", itemType="JSON")


# --- FILE -------------------------------------------------------------------------------------


def test_file_is_stored_through_the_callback(tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text("a,b\n1,2\n")
    calls: list[tuple[str, Path]] = []

    def store_file(input_id: str, path: Path) -> str:
        calls.append((input_id, path))
        return f"lanner://ns/flow/{input_id}/{path.name}"

    d = Input(id="data", type="FILE")
    values = coerce_inputs([d], {"data": str(src)}, store_file=store_file)
    assert values == {"data": "lanner://ns/flow/data/data.csv"}
    assert calls == [("data", src.resolve())]


def test_file_without_store_is_the_resolved_path(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("x")
    assert one(str(src), type="FILE") == str(src.resolve())


def test_file_uri_passes_through_and_bad_paths_are_refused(tmp_path: Path) -> None:
    calls: list[Any] = []
    d = Input(id="f", type="FILE")
    uri = "lanner://ns/flow/executions/1/f/in.txt"
    assert coerce_inputs([d], {"f": uri}, store_file=lambda *a: calls.append(a) or "") == {"f": uri}
    assert calls == []
    assert "does not exist" in refused(str(tmp_path / "missing.csv"), type="FILE")
    assert "is not a file" in refused(str(tmp_path), type="FILE")


# --- required, defaults, unknown, several errors ----------------------------------------------


def test_required_optional_and_defaults() -> None:
    defs = [
        Input(id="name", type="STRING"),
        Input(id="age", type="INT", required=False),
        Input(id="level", type="INT", defaults="3"),
        Input(id="when", type="DATETIME", defaults="2024-01-01T12:00:00+01:00"),
    ]
    values = coerce_inputs(defs, {"name": "bob", "age": None})
    assert values == {"name": "bob", "age": None, "level": 3, "when": "2024-01-01T11:00:00Z"}
    assert list(values) == ["name", "age", "level", "when"]  # declaration order
    with pytest.raises(InputError) as info:
        coerce_inputs(defs, {})
    assert str(info.value) == "input 'name' is required"
    assert info.value.input_id == "name"


def test_expression_defaults_are_rendered_when_a_renderer_is_given() -> None:
    d = Input(id="when", type="DATETIME", defaults="{{ now() }}")  # not checked at definition time
    assert coerce_inputs([d], {}, render=lambda text: "2024-05-01T00:00:00Z") == {"when": "2024-05-01T00:00:00Z"}
    assert coerce_inputs([d], {"when": "2024-06-01T00:00:00Z"}, render=lambda t: 1 / 0) == {"when": "2024-06-01T00:00:00Z"}


def test_unknown_input_names_the_declared_ones() -> None:
    defs = [Input(id="name", type="STRING", required=False), Input(id="age", type="INT", required=False)]
    with pytest.raises(InputError) as info:
        coerce_inputs(defs, {"nmae": "bob"})
    assert str(info.value) == "unknown input 'nmae'; the flow declares: name, age"
    assert info.value.input_id == "nmae"
    with pytest.raises(InputError, match="the flow declares: no inputs"):
        coerce_inputs([], {"x": 1})


def test_all_errors_are_reported_at_once() -> None:
    defs = [
        Input(id="name", type="STRING"),
        Input(id="age", type="INT", max=120),
        Input(id="ok", type="BOOLEAN"),
        Input(id="when", type="DATE"),
    ]
    with pytest.raises(InputErrors) as info:
        coerce_inputs(defs, {"age": "150", "ok": "true", "when": "nope", "extra": 1})
    err = info.value
    assert isinstance(err, InputError)
    assert sorted(e.input_id for e in err.errors) == ["age", "extra", "name", "when"]
    lines = str(err).splitlines()
    assert len(lines) == 4
    assert "input 'age': 150 is above the maximum 120" in lines
    assert "input 'name' is required" in lines


def test_mask_secrets() -> None:
    defs = [Input(id="token", type="SECRET"), Input(id="name", type="STRING"), Input(id="pw", type="SECRET", required=False)]
    values = coerce_inputs(defs, {"token": "abc123", "name": "visible"})
    assert mask_secrets(defs, values) == ["abc123"]
    assert mask_secrets(defs, {"token": "short", "pw": "much-longer", "name": "n"}) == ["much-longer", "short"]


def test_hide_secrets_replaces_each_secret_input_flat_or_nested_and_leaves_the_values_alone() -> None:
    defs = [Input(id="token", type="SECRET"), Input(id="db.password", type="SECRET"), Input(id="db.user", type="STRING"),
            Input(id="pw", type="SECRET", required=False), Input(id="name", type="STRING")]
    values = coerce_inputs(defs, {"token": "ab", "db.password": "hunter22", "db.user": "bob", "name": "visible"})
    shown = hide_secrets(defs, values, "***")
    # Whatever its length (the log masker skips values under 3 characters); an unset one stays None.
    assert shown == {"token": "***", "db": {"password": "***", "user": "bob"}, "pw": None, "name": "visible"}
    assert values["db"]["password"] == "hunter22" and values["token"] == "ab"  # a copy: the real values are untouched
    # Dotted ids stored flat are found too; an id whose parent is not a map is left as it is.
    assert hide_secrets(defs, {"db.password": "x", "db": "not-a-map"}, "***") == {"db.password": "***", "db": "not-a-map"}


# --- definition rules -------------------------------------------------------------------------


def definition_errors(**definition: Any) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as info:
        Input.model_validate({"id": "age", **definition})
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


@pytest.mark.parametrize(
    ("definition", "loc", "message"),
    [
        ({"type": "STRING", "min": 3}, "min", "input 'age': min applies to INT, FLOAT and DURATION inputs, not STRING"),
        ({"type": "INT", "validator": "x"}, "validator", "validator applies to STRING and SECRET inputs, not INT"),
        ({"type": "INT", "after": "2024-01-01"}, "after", "after applies to DATETIME, DATE and TIME inputs, not INT"),
        ({"type": "INT", "minLength": 1}, "minLength", "minLength applies to STRING inputs, not INT"),
        ({"type": "STRING", "values": ["a"]}, "values", "values applies to SELECT and MULTISELECT inputs, not STRING"),
        ({"type": "STRING", "allowCustomValue": True}, "allowCustomValue", "applies to SELECT and MULTISELECT inputs"),
        ({"type": "STRING", "itemType": "INT"}, "itemType", "itemType applies to ARRAY inputs, not STRING"),
        ({"type": "STRING", "validator": "[a-"}, "validator", "validator is not a valid regular expression"),
        ({"type": "INT", "min": 10, "max": 5}, "min", "min (10) is greater than max (5)"),
        ({"type": "INT", "min": 1.5}, "min", "min must be a whole number for INT inputs"),
        ({"type": "FLOAT", "max": "big"}, "max", "max must be a number for FLOAT inputs"),
        ({"type": "DURATION", "min": "PT1H", "max": "PT1M"}, "min", "min (PT1H) is greater than max (PT1M)"),
        ({"type": "DURATION", "max": "soon"}, "max", "max must be an ISO-8601 duration"),
        ({"type": "DATE", "after": "2024-02-01", "before": "2024-01-01"}, "after", "is later than before"),
        ({"type": "DATE", "after": "Monday"}, "after", "after 'Monday' is not an ISO-8601 date"),
        ({"type": "STRING", "minLength": 5, "maxLength": 2}, "minLength", "minLength (5) is greater than maxLength (2)"),
        ({"type": "SELECT"}, "values", "SELECT inputs need values"),
        ({"type": "MULTISELECT", "values": []}, "values", "MULTISELECT inputs need values"),
        ({"type": "SELECT", "values": ["a", "a"]}, "values", "values lists 'a' more than once"),
        ({"type": "ARRAY"}, "itemType", "ARRAY inputs need itemType"),
        ({"type": "INT", "max": 120, "defaults": 150}, "defaults", "the default value is invalid: 150 is above the maximum 120"),
        ({"type": "SELECT", "values": ["a"], "defaults": "b"}, "defaults", "'b' is not one of: a"),
        ({"type": "DATETIME", "defaults": "tomorrow"}, "defaults", "is not an ISO-8601 date-time"),
        ({"type": "ARRAY", "itemType": "INT", "defaults": ["x"]}, "defaults", "item 0: 'x' is not an integer"),
        ({"type": "FILE", "defaults": 3}, "defaults", "is not a file path or lanner:// URI"),
    ],
)
def test_definition_rule_errors(definition: dict[str, Any], loc: str, message: str) -> None:
    errors = definition_errors(**definition)
    assert len(errors) == 1, errors
    assert errors[0][0] == (loc,)
    assert message in errors[0][1]
    assert errors[0][1].startswith("input 'age': ")


def test_unknown_type_and_id_and_property() -> None:
    [(loc, msg)] = definition_errors(type="BOOLEEN")
    assert loc == ("type",) and "unknown input type 'BOOLEEN'; did you mean BOOLEAN?" in msg
    assert definition_errors(type="STRING", id="has space")[0][0] == ("id",)
    assert definition_errors(type="STRING", prefil="x")[0][0] == ("prefil",)


def test_errors_are_located_inside_a_flow_list() -> None:
    class Holder(BaseModel):
        inputs: list[Input]

    with pytest.raises(ValidationError) as info:
        Holder.model_validate({"inputs": [{"id": "ok", "type": "INT"}, {"id": "age", "type": "STRING", "min": 3}]})
    [error] = info.value.errors()
    assert error["loc"] == ("inputs", 1, "min")


def test_valid_definitions_round_trip_to_camel_case() -> None:
    d = Input.model_validate(
        {"id": "env", "type": "SELECT", "values": ["dev", "prod"], "allowCustomValue": True, "displayName": "Env",
         "defaults": "dev", "dependsOn": {"inputs": ["region"]}, "required": False}
    )
    assert d.allow_custom_value is True and d.depends_on == {"inputs": ["region"]}
    assert d.to_data() == {
        "id": "env", "type": "SELECT", "values": ["dev", "prod"], "allowCustomValue": True, "displayName": "Env",
        "defaults": "dev", "dependsOn": {"inputs": ["region"]}, "required": False,
    }


def test_json_schema_serves_a_form_builder() -> None:
    schema = Input.model_json_schema(by_alias=True)
    props = schema["properties"]
    assert {"id", "type", "minLength", "allowCustomValue", "itemType", "dependsOn", "after", "before"} <= set(props)
    assert all(p.get("description") for p in props.values()), [k for k, p in props.items() if not p.get("description")]
    assert props["min"]["appliesTo"] == ["INT", "FLOAT", "DURATION"]
    assert "ARRAY" in props["type"]["enum"] and "BOOL" not in props["type"]["enum"]
    assert schema["required"] == ["id", "type"]
