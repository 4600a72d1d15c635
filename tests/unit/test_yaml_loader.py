"""YAML loading with positions, limits and YAML 1.2 scalars; dumping that reads back equal."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.model.yaml_loader import YamlError, dump_yaml, load_any_yaml, load_yaml

FLOW = """\
id: hello
namespace: company.team
tasks:
  - id: first
    type: log
    message: hi
  - id: second
    type: log
    retry:
      type: constant
      maxAttempt: 0
    labels: [a, b]
"""


def _error(text: str | bytes, **kwargs: int) -> YamlError:
    with pytest.raises(YamlError) as info:
        load_yaml(text, **kwargs)
    return info.value


# --- positions -----------------------------------------------------------------------------


def test_positions_of_nested_values_and_list_items() -> None:
    data, pos = load_yaml(FLOW)
    assert data["tasks"][1]["retry"]["maxAttempt"] == 0
    assert pos.position(("tasks", 1, "retry", "maxAttempt")) == (11, 19)
    assert pos.key_position(("tasks", 1, "retry", "maxAttempt")) == (11, 7)
    assert pos.position(("tasks", 1)) == (7, 5)
    assert pos.position(("tasks", 1, "labels", 1)) == (12, 17)
    assert pos.position(("id",)) == (1, 5)


def test_block_collection_under_a_key_answers_with_the_key_line() -> None:
    _, pos = load_yaml(FLOW)
    assert pos.position(("tasks", 1, "retry")) == (9, 5)
    assert pos.value_position(("tasks", 1, "retry")) == (10, 7)
    # A flow-style list starts on its key's line: its own position is exact.
    assert pos.position(("tasks", 1, "labels")) == (12, 13)


def test_missing_path_falls_back_to_nearest_ancestor() -> None:
    _, pos = load_yaml(FLOW)
    assert pos.position(("tasks", 1, "retry", "interval")) == (9, 5)
    assert pos.position(("tasks", 0, "nope", "deeper")) == (4, 5)
    assert pos.value_position(("tasks", 1, "retry", "interval")) is None


def test_position_map_is_a_mapping_of_every_node() -> None:
    _, pos = load_yaml(FLOW)
    assert ("tasks", 1, "retry", "type") in pos
    assert ("tasks", 5) not in pos
    assert pos[("tasks",)] == (3, 1)  # a key's position for a mapping entry
    assert pos[("tasks", 0)] == (4, 5)  # a list item's own position
    # root + id, namespace, tasks + 2 tasks + their 3/4 props + retry's 2 + 2 labels
    assert len(pos) == 1 + 3 + 2 + 3 + 4 + 2 + 2
    assert set(pos) >= {(), ("tasks", 1, "labels", 0)}


# --- scalars: YAML 1.2 core schema ----------------------------------------------------------


def test_keys_like_on_and_dates_stay_strings() -> None:
    data, _ = load_yaml(
        "on: yes\nno: off\nday: 2024-01-01\nwhen: 2024-01-01T10:00:00Z\n1: one\nnull: x\nversion: 1.10.2\n"
    )
    assert data == {
        "on": "yes",
        "no": "off",
        "day": "2024-01-01",
        "when": "2024-01-01T10:00:00Z",
        "1": "one",
        "null": "x",
        "version": "1.10.2",
    }


def test_core_schema_numbers_booleans_and_nulls() -> None:
    data, _ = load_yaml(
        "a: 12\nb: -3\nc: 0o12\nd: 0x1F\ne: 1.5\nf: 1e3\ng: .inf\nh: -.Inf\ni: ~\nj: null\nk:\n"
        "l: True\nm: FALSE\nn: 1_000\no: '12'\np: \"true\"\nq: !!str 7\nr: !!float 2\ns: 012\n"
    )
    assert data["a"] == 12 and data["b"] == -3 and data["c"] == 10 and data["d"] == 31
    assert data["e"] == 1.5 and data["f"] == 1000.0 and isinstance(data["f"], float)
    assert data["g"] == math.inf and data["h"] == -math.inf
    assert data["i"] is None and data["j"] is None and data["k"] is None
    assert data["l"] is True and data["m"] is False
    assert data["n"] == "1_000" and data["o"] == "12" and data["p"] == "true" and data["q"] == "7"
    assert data["r"] == 2.0 and isinstance(data["r"], float)
    assert data["s"] == 12
    assert math.isnan(load_yaml("x: .nan")[0]["x"])


def test_multiline_strings() -> None:
    data, _ = load_yaml("script: |\n  print(1)\n  print(2)\nfolded: >\n  a\n  b\n")
    assert data == {"script": "print(1)\nprint(2)\n", "folded": "a b\n"}


def test_huge_integers_are_refused_unless_quoted() -> None:
    digits = "9" * 5000
    err = _error(f"a: 1\nb: {digits}\n")
    assert err.line == 2 and "quote it" in err.message
    assert load_yaml(f"b: '{digits}'\n")[0]["b"] == digits
    assert load_yaml(dump_yaml({"b": digits}))[0]["b"] == digits


def test_unsupported_tags_are_refused_with_position() -> None:
    err = _error("a: 1\nb: !!binary aGk=\n")
    assert (err.line, err.column) == (2, 4)
    assert "!!binary is not supported" in err.message
    assert "!!python/object" in _error("a: !!python/object:os.system x\n").message
    assert "'x' is not a valid !!int" in _error("a: !!int x\n").message


# --- errors -------------------------------------------------------------------------------


def test_syntax_error_has_line_column_and_readable_str() -> None:
    err = _error("id: a\nnamespace: b\ntasks: x: y\n")
    assert (err.line, err.column) == (3, 9)
    assert "mapping values are not allowed" in err.message
    assert str(err) == f"line 3, column 9: {err.message}"


def test_unclosed_bracket_names_where_it_started() -> None:
    err = _error("a: [1, 2\nb: 3\n")
    assert err.line == 2
    assert "line 1" in err.message


def test_tab_indentation_gets_a_hint() -> None:
    err = _error("a:\n\tb: 1\n")
    assert err.line == 2
    assert "tab" in err.message


def test_duplicate_keys_name_the_key_and_both_lines() -> None:
    err = _error("id: a\ntasks:\n  - id: t\n    type: log\n    type: shell\n")
    assert (err.line, err.column) == (5, 5)
    assert "duplicate key 'type'" in err.message
    assert "line 4" in err.message


def test_same_key_in_different_mappings_is_fine() -> None:
    data, _ = load_yaml("a: {id: 1}\nb: {id: 2}\n")
    assert data == {"a": {"id": 1}, "b": {"id": 2}}


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "---\n", "~\n", "null\n"])
def test_empty_document(text: str) -> None:
    err = _error(text)
    assert err.message == "the flow is empty"


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "a single value (42)")]
)
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    err = _error(text)
    assert err.message.startswith("a flow must be a mapping")
    assert err.message.endswith(kind)
    assert err.line == 1


def test_load_any_yaml_accepts_any_top_level() -> None:
    assert load_any_yaml("- a\n- 2\n") == ["a", 2]
    assert load_any_yaml("") is None


def test_a_second_document_is_refused() -> None:
    err = _error("a: 1\n---\nb: 2\n")
    assert err.line == 2
    assert "single YAML document" in err.message


def test_complex_keys_are_refused() -> None:
    err = _error("? [a, b]\n: 1\n")
    assert "mapping keys must be plain strings" in err.message


def test_control_characters_are_refused_with_a_line() -> None:
    err = _error("a: 1\nb: x\x01y\n")
    assert err.line == 2
    assert "#x0001" in err.message


def test_bytes_input_with_bom_and_invalid_utf8() -> None:
    assert load_yaml("\ufeffname: é\n".encode())[0] == {"name": "é"}
    err = _error(b"a: \xff\xfe\n")
    assert "not UTF-8" in err.message
    assert "not valid Unicode" in _error("a: \ud800\n").message


# --- limits ----------------------------------------------------------------------------------


def test_size_limit_names_size_and_limit() -> None:
    text = "a: " + "x" * 2_000
    err = _error(text, max_bytes=1_000)
    assert "2,003 bytes" in err.message and "1,000 bytes" in err.message
    err = _error(("é: " + "é" * 400).encode(), max_bytes=500)  # bytes are counted, not characters
    assert "804 bytes" in err.message
    assert load_yaml(text, max_bytes=2_003)[0]["a"] == "x" * 2_000


def test_depth_limit_names_the_line() -> None:
    ok = "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 9)) + "  " * 9 + "v: 1\n"
    assert load_yaml(ok, max_depth=10)[0]["a"]["k1"]["k2"]
    err = _error(ok, max_depth=5)
    assert "nested deeper than 5 levels" in err.message
    assert err.line == 6  # where the sixth level (the value of k4) starts


def test_very_deep_nesting_fails_fast_without_crashing() -> None:
    n = 400_000
    started = time.thread_time()  # CPU time: a busy CI machine stretches wall time, not this
    err = _error("a: " + "[" * n + "]" * n)
    assert time.thread_time() - started < 1.0
    assert "deeper than 100 levels" in err.message


DEEP_DOCUMENTS = {
    "flow lists past libyaml's own limit": "a: " + "[" * 2_000 + "]" * 2_000,
    "flow mappings past libyaml's own limit": "a: " + "{b: " * 1_500 + "}" * 1_500,
    "flow lists just past Lanner's limit": "a: " + "[" * 101 + "]" * 101,
    "block nesting": "".join(" " * i + f"k{i}:\n" for i in range(150)) + " " * 150 + "v: 1\n",
}


@pytest.mark.parametrize("text", DEEP_DOCUMENTS.values(), ids=DEEP_DOCUMENTS.keys())
def test_depth_error_is_lanners_own_whatever_parser_refuses_first(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libyaml (C) may refuse deep nesting itself before Lanner's guard speaks; the user sees the same
    sentence, line and column as with the pure-Python parser, which has no limit of its own."""
    import yaml

    from engine.model import yaml_loader

    c_error = _error(text)
    monkeypatch.setattr(yaml_loader, "_EventLoader", yaml.SafeLoader)
    python_error = _error(text)
    assert c_error.message == python_error.message == "the document is nested deeper than 100 levels"
    assert (c_error.line, c_error.column) == (python_error.line, python_error.column)


def test_aliases_expand_into_independent_copies() -> None:
    data, pos = load_yaml("base: &b {retries: 3, tags: [x]}\none: *b\ntwo: *b\n")
    assert data["one"] == data["two"] == {"retries": 3, "tags": ["x"]}
    data["one"]["tags"].append("y")
    assert data["two"]["tags"] == ["x"] and data["base"]["tags"] == ["x"]
    assert pos.position(("two", "tags", 0)) == (3, 6)  # inside an alias: the alias's position


def test_too_many_aliases() -> None:
    text = "a: &a 1\nl: [" + ", ".join(["*a"] * 101) + "]\n"
    err = _error(text)
    assert "more than 100 aliases" in err.message and err.line == 2
    assert len(load_yaml(text, max_aliases=101)[0]["l"]) == 101


def test_billion_laughs_fails_fast() -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    started = time.thread_time()  # CPU time: a busy CI machine stretches wall time, not this
    err = _error("\n".join(lines) + "\n")
    assert time.thread_time() - started < 1.0
    assert "aliases" in err.message
    assert err.line is not None and err.line <= 4


def test_one_alias_of_a_huge_block_is_bounded_too() -> None:
    text = "big: &big [" + ", ".join(["1"] * 30_000) + "]\nc1: *big\nc2: *big\nc3: *big\nc4: *big\n"
    err = _error(text)
    assert "aliases add more than 100,000 values" in err.message
    assert err.line == 5  # the fourth alias crosses the limit


def test_undefined_and_recursive_aliases() -> None:
    assert "alias *nope is not defined" in _error("a: *nope\n").message
    assert "cannot be used inside itself" in _error("a: &x [1, *x]\n").message


def test_thousand_task_flow_loads_fast() -> None:
    text = "id: big\nnamespace: company.team\ntasks:\n" + "".join(
        f"  - id: task_{i}\n    type: log\n    message: 'Hello {{{{ inputs.name }}}} {i}'\n"
        f"    retry:\n      type: constant\n      maxAttempt: 3\n      interval: PT1S\n"
        for i in range(1000)
    )
    best = math.inf
    for _ in range(3):
        started = time.thread_time()  # CPU time: a busy CI machine stretches wall time, not this
        data, pos = load_yaml(text)
        best = min(best, time.thread_time() - started)
    assert len(data["tasks"]) == 1000
    assert pos.position(("tasks", 999, "retry", "maxAttempt"))[0] == 3 + 999 * 7 + 6
    assert best < 0.25, f"loading 1,000 tasks took {best * 1000:.0f} ms"


# --- dumping --------------------------------------------------------------------------------


def test_dump_is_readable_block_yaml() -> None:
    data = {
        "id": "hello",
        "namespace": "company.team",
        "description": "First line\nSecond line\n",
        "tasks": [{"id": "t", "type": "log", "message": "héllo ✓"}],
        "empty": [],
    }
    text = dump_yaml(data)
    assert text == (
        "id: hello\n"
        "namespace: company.team\n"
        "description: |\n"
        "  First line\n"
        "  Second line\n"
        "tasks:\n"
        "  - id: t\n"
        "    type: log\n"
        "    message: héllo ✓\n"
        "empty: []\n"
    )


def test_dump_keeps_key_order_and_writes_no_aliases() -> None:
    shared = {"x": 1}
    text = dump_yaml({"z": shared, "a": shared, "m": [shared]})
    assert "&" not in text and "*" not in text
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")] == ["z", "a", "m"]
    assert load_yaml(text)[0] == {"z": {"x": 1}, "a": {"x": 1}, "m": [{"x": 1}]}


@pytest.mark.parametrize(
    "value", ["on", "yes", "012", "0o12", "0x1F", "1e3", ".5", "null", "~", "2024-01-01", "True", "", " x", "a\r\nb", "\x85"]
)
def test_strings_that_look_like_other_things_round_trip(value: str) -> None:
    data = {value: value, "v": value}
    assert load_yaml(dump_yaml(data))[0] == data


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_plain = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=15
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.dictionaries(st.text(), _plain, min_size=1, max_size=5))
def test_round_trip(data: dict) -> None:
    assert load_yaml(dump_yaml(data))[0] == data
