"""Lookup-only templates read without Jinja (engine.expressions.lite) against the full engine.

Each template is read both ways: :func:`lite.scan` must either refuse it or give the very plan
the full engine makes of Jinja's parsed tree (and that template must then compile), so the
values and errors of the fast path (tests/unit/test_expression_lookups.py) hold. Seeded random
templates made of the pieces that matter (brackets, quotes, keywords, whitespace control, ``\\r``)
probe the edges; public ``render``/``check_syntax``/``referenced_outputs`` are then compared with
the full engine's, errors included, and a fresh interpreter shows Jinja is not imported for them.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from engine import expressions
from engine.expressions import ExpressionError, Limits, analysis, lite
from engine.expressions.full_render import compile_template, environment

from .test_expression_lookups import CONTEXT, FUNCTIONS, outcome, same

TABLE = [
    "{{ inputs.n }}", "  {{ inputs.n }}\n", "{{inputs.name}}", "{{ inputs . name }}", "{{ inputs\n.name }}",
    "{{ outputs.t.value }}", "{{ outputs['t'].value }}", '{{ outputs["t"]["value"] }}', "{{ outputs.list[0] }}",
    "{{ outputs.list[ 2 ] }}", "{{ outputs.inner[taskrun.value].value }}", "{{ outputs.inner[outputs.inner['0'].value] }}",
    "hello {{ execution.id }}", "a {{ b.c }} d", "{{ a }}{{ b }}", "x\n{{ inputs.n }}\n", "{ {{ inputs.n }} }",
    "}} {{ inputs.n }}", "{{ inputs.missing }}", "{{ inputs.nothing.x }}", "{{ inputs.big }}", "n={{ inputs.big }}",
    "{{ inputs.values }}", "{{ outputs.items.items }}", "{{ proxy }}", "{{ proxy.items }}", "{{ tuple[0] }}",
    "{{ obj.a }}", "{{ obj._p }}", "{{ secret }}", "{{ s[0] }}", "{{ inputs.items[5] }}", "{{ inputs.f }}",
    "{{ inputs.flag }} and {{ inputs.off }} and {{ inputs.nothing }}", "{{ outputs.t }}", "x {{ outputs.t }}",
    "{{ true }}", "{{ null }}", "{{ none }}", "{{ not }}", "{{ loop }}", "{{ self }}", "{{ _x }}", "{{ a.true }}",
    "{{ a.0 }}", "{{ a[1l] }}", "{{ a[01] }}", "{{ a[1.5] }}", "{{ a[-1] }}", "{{ a['x\\'y'] }}", "{{ a['é'] }}",
    "{{- a }}", "{{ a -}}", "{% if a %}{{ a }}{% endif %}", "{# c #}{{ a }}", "{{ a }}\r\n", "{{ a | upper }}",
    "{{ a() }}", "{{ a ?? 'd' }}", "{{ a..b }}", "{{ a. b }}", "{{ a [0] }}", "{{ a }", "{{ a }} {{", "{{ aé }}",
    "{{ inputs.text }}", "x {{ inputs.text }}",
]

PIECES = ["{{", "}}", " ", "a", "outputs", "inputs", "n", ".", "[", "]", "'k'", '"k"', "'", "0", "01", "1l", "-", "true",
          "_x", "\n", "\r", "\t", "{%", "{#", "#}", "x", "é", "..", "(", ")", "|", "upper", "{", "}", "?", "\\", "1.5"]


def jinja_plan(template: str) -> tuple[bool, object]:
    try:
        compiled = compile_template(environment(Limits()), template)
    except ExpressionError:
        return False, None
    return True, compiled.fast


def generated(count: int = 6000) -> list[str]:
    rng = random.Random(20)
    out = []
    for _ in range(count):
        body = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 7)))
        out.append(rng.choice(["{{ ", "{{", "x {{ ", ""]) + body + rng.choice([" }}", "}}", "", " }} y"]))
    return out


@pytest.mark.parametrize("template", TABLE)
def test_a_read_plan_is_the_full_engines_plan(template: str) -> None:
    plan = lite.scan(template)
    if plan is not None:
        compiles, fast = jinja_plan(template)
        assert compiles and fast == plan, f"{template!r}: lite {plan!r}, full {fast!r}"


def test_random_templates_are_refused_or_read_as_the_full_engine_reads_them() -> None:
    accepted = 0
    for template in generated():
        plan = lite.scan(template)
        if plan is None:
            continue
        accepted += 1
        compiles, fast = jinja_plan(template)
        assert compiles and fast == plan, f"{template!r}: lite {plan!r}, full {fast!r}"
    assert accepted > 150  # the generator does reach lookups


def test_the_usual_lookups_are_read_without_jinja() -> None:
    for template in ("{{ inputs.n }}", "hello {{ execution.id }}", "{{ outputs['my-task'].value }}",
                     "{{ outputs.t[taskrun.value].value }}", "{{ outputs.list[0] }}", "a\n{{ x }}\n"):
        assert lite.scan(template) is not None, template


@pytest.mark.parametrize("template", TABLE)
def test_renders_give_the_full_engines_value_or_error(template: str) -> None:
    for limits in (Limits(), Limits(max_output=12)):
        try:
            got: tuple[str, object] = ("value", expressions.render(template, CONTEXT, functions=FUNCTIONS, limits=limits))
        except ExpressionError as exc:
            got = ("error", str(exc))
        try:
            full = outcome(template, fast=False, limits=limits)
        except ExpressionError as exc:  # does not parse
            full = ("error", str(exc))
        if got[0] == "value" and not isinstance(got[1], (str, int, float, bool, type(None), list, dict, tuple)):
            # the shielded function (a new wrapper each time), Jinja's template reference
            assert full[0] == "value" and type(full[1]) is type(got[1])
            continue
        assert same(got, full), f"{template!r} {limits.max_output}: {got!r} vs {full!r}"
        try:
            text: tuple[str, object] = ("value", expressions.render_string(template, CONTEXT, limits=limits))
        except ExpressionError as exc:
            text = ("error", str(exc))
        from engine.expressions import full_render

        try:
            expected: tuple[str, object] = ("value", full_render.render_string(template, CONTEXT, limits=limits))
        except ExpressionError as exc:
            expected = ("error", str(exc))
        assert same(text, expected), f"{template!r}: {text!r} vs {expected!r}"


@pytest.mark.parametrize("template", TABLE)
def test_checks_and_references_are_the_full_engines(template: str) -> None:
    def result(fn: object) -> tuple[str, object]:
        try:
            return "value", fn(template)  # type: ignore[operator]
        except ExpressionError as exc:
            return "error", str(exc)

    assert result(expressions.check_syntax) == result(analysis.check_syntax)
    assert result(expressions.referenced_outputs) == result(analysis.referenced_outputs)


def test_a_bound_renderer_walks_maps_and_lists_like_the_full_one() -> None:
    value = {"a": ["{{ inputs.n }}", "x {{ inputs.name }}", 1, None], "b": "{{ inputs.n + 1 }}", "c": ("{{ s }}",)}
    fast = expressions.renderer(functions=FUNCTIONS)(value, CONTEXT)
    from engine.expressions import full_render

    assert fast == full_render.renderer(functions=FUNCTIONS)(value, CONTEXT) == {
        "a": [3, "x World", 1, None], "b": 4, "c": ("text",)}
    with pytest.raises(ExpressionError, match="missing"):
        expressions.renderer()({"a": "{{ inputs.n }}", "b": "{{ inputs.missing }}"}, CONTEXT)


def test_a_short_run_of_lookups_never_imports_jinja() -> None:
    code = (
        "import sys\n"
        "from engine import expressions\n"
        "from engine.runtime.expression_functions import runtime_functions\n"
        "ctx = {'inputs': {'n': 3}, 'outputs': {'t': {'value': 'v'}}}\n"
        "expressions.check_syntax('{{ inputs.n }}')\n"
        "assert expressions.referenced_outputs('a {{ outputs.t.value }}') == {'t'}\n"
        "assert expressions.renderer()({'m': 'x {{ outputs.t.value }}', 'n': '{{ inputs.n }}'}, ctx) == {'m': 'x v', 'n': 3}\n"
        "assert 'jinja2' not in sys.modules, 'jinja2 imported'\n"
        "assert expressions.render('{{ inputs.n + 1 }}', ctx) == 4\n"
        "assert 'jinja2' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
