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


# --- the API: oversized and hostile flow bodies ------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    from tests.integration.server_process import ServerProcess

    server = ServerProcess(tmp_path_factory.mktemp("bad-input")).start()
    try:
        with server.client(headers={"Content-Type": "application/x-yaml"}) as client:
            yield client
    finally:
        server.stop()


def _flow_of(size: int) -> str:
    head = "id: big\nnamespace: faults.input\ntasks:\n"
    task = "  - id: t{i}\n    type: log\n    message: " + "x" * 200 + "\n"
    body, i = [head], 0
    total = len(head)
    while total < size:
        line = task.format(i=i)
        body.append(line)
        total += len(line)
        i += 1
    return "".join(body)[:size]


def _timed_post(api, content) -> tuple[int, str, float]:
    import time

    t0 = time.monotonic()
    r = api.post("/api/v1/flows", content=content)
    return r.status_code, r.text, time.monotonic() - t0


def test_a_10_mb_flow_body_is_refused_quickly(api) -> None:
    status, text, seconds = _timed_post(api, _flow_of(10_000_000))  # under the 10 MiB body limit: the loader refuses it
    assert status == 422 and "more than the limit" in text, (status, text[:300])
    assert seconds < 10
    status, text, seconds = _timed_post(api, _flow_of(11 * 1024 * 1024))  # over LANNER_MAX_BODY
    assert status == 413 and "LANNER_MAX_BODY" in text, (status, text[:300])
    assert seconds < 10


def test_an_oversized_chunked_body_without_length_is_cut_off(api) -> None:
    chunk = b"# " + b"x" * (1024 * 1024 - 3) + b"\n"

    def stream():
        for _ in range(12):
            yield chunk

    status, text, seconds = _timed_post(api, stream())
    assert status == 413, (status, text[:300])
    assert seconds < 10


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("id: f\nnamespace: n\ntasks: " + "[" * 20000 + "]" * 20000, "nested deeper"),
        ("id: f\nnamespace: n\ntasks:\n  - id: t\n    type: log\n    message: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", "nested deeper"),
        ("id: f\nnamespace: n\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
         + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9))
         + "tasks:\n  - id: t\n    type: log\n    message: *a8\n", "aliases"),
    ],
    ids=["deep-lists", "deep-maps", "alias-bomb"],
)
def test_hostile_yaml_gets_a_422_not_a_hang(api, body: str, reason: str) -> None:
    status, text, seconds = _timed_post(api, body)
    assert status == 422 and reason in text, (status, text[:300])
    assert seconds < 5
    assert api.get("/health").status_code == 200
