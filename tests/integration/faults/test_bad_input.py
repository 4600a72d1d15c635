"""Bad input: fuzz the YAML loader and the expression renderer; only validation errors may come out."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.expressions import ExpressionError, render
from engine.model.validation import validate_text

pytestmark = pytest.mark.faults

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)

_keys = st.sampled_from(["id", "namespace", "tasks", "type", "message", "inputs", "triggers", "retry", "values", "{{", "}}"])
_scalars = st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True))
_docs = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)), max_leaves=20)


@FUZZ
@given(st.text(max_size=400))
def test_validate_text_never_crashes_on_arbitrary_text(text: str) -> None:
    report = validate_text(text)
    assert report.errors or report.flow is not None


@FUZZ
@given(_docs)
def test_validate_text_never_crashes_on_flow_shaped_yaml(doc: object) -> None:
    import yaml

    text = yaml.safe_dump({"id": "f", "namespace": "n", "tasks": [doc]} if not isinstance(doc, dict) else doc)
    report = validate_text(text)
    assert report.errors or report.flow is not None


_template = st.lists(
    st.one_of(st.text(max_size=10), st.sampled_from(["{{", "}}", "{%", "%}", "|", "x.y", "inputs.a", "()", "[0]", "'s'", "range(9**9)", "__class__", " for ", " if ", "endfor"])),
    max_size=12,
).map("".join)


@FUZZ
@given(_template)
def test_render_raises_only_expression_errors(template: str) -> None:
    try:
        render(template, {"inputs": {"a": 1}, "x": {"y": [1, 2]}})
    except ExpressionError:
        pass


def test_deeply_nested_and_huge_yaml_are_refused_quickly() -> None:
    import time

    t0 = time.monotonic()
    nested = "a: " + "[" * 5000 + "]" * 5000
    report = validate_text(nested)
    assert report.errors
    huge = "id: big\nnamespace: n\ntasks:\n" + "".join(f"  - id: t{i}\n    type: log\n    message: {'x' * 200}\n" for i in range(40_000))
    report = validate_text(huge)
    assert report.errors or report.flow is not None
    assert time.monotonic() - t0 < 30
