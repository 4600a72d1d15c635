"""The fast path of lookup templates (engine.expressions.lookups) against the full Jinja path.

Every template below is rendered twice against the same context: the way the runner
renders it (the fast path answers when it can) and with the fast path switched off
(``fast=None``: Jinja's generated code, the watchdog, the ledger). Values, their
types and error messages must be the same. The templates the fast path must answer
on its own are also run with no compiled template at all, so a silent fall-back to
the full path would fail them.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import pytest

from engine.expressions import ExpressionError, Limits
from engine.expressions.full_render import compile_template, environment, run_compiled
from engine.expressions.lookups import Path

CONTEXT: dict[str, Any] = {
    "inputs": {
        "n": 3, "name": "World", "flag": True, "off": False, "nothing": None, "f": 1.5, "zero": 0,
        "items": ["a", "b"], "empty": {}, "values": "a key, not the method", "big": 10**5000,
        "nested": {"a": {"b": [1, {"c": 2}, None]}}, "text": "héllo \"quoted\" {{ not rendered }}",
    },
    "outputs": {
        "t": {"value": {"k": 1, "l": [1, 2]}},
        "inner": {"a": {"value": 1}, "b": {"value": None}, "0": {"value": "key zero"}},
        "list": [10, 20, 30],
        "items": {"items": 5, "keys": "k"},
        "many": {str(i): {"value": i} for i in range(100)},
    },
    "taskrun": {"value": "a", "attemptsCount": 0, "n": 1, "missing": None, "list": [1]},
    "execution": {"id": "ex1", "startDate": "2026-11-24T10:15:30.123456+00:00"},
    "tuple": (1, (2, 3)),
    "s": "text",
    "proxy": types.MappingProxyType({"a": 1, "items": "proxied"}),
    "obj": types.SimpleNamespace(a=1, _p=2),
    "secret": "a context value a function shadows",
}


def secret(name: str) -> str:
    return f"secret {name}"


FUNCTIONS = {"secret": secret}

#: Templates the fast path answers by itself, with the value it must give.
FAST: list[tuple[str, Any]] = [
    ("{{ inputs.n }}", 3),
    ("  {{ inputs.n }}\n", 3),
    ("{{inputs.name}}", "World"),
    ("{{ inputs.flag }}", True),
    ("{{ inputs.nothing }}", None),
    ("{{ inputs.f }}", 1.5),
    ("{{ inputs.items }}", ["a", "b"]),
    ("{{ inputs.items[0] }}", "a"),
    ("{{ inputs.items.1 }}", "b"),
    ("{{ inputs['name'] }}", "World"),
    ('{{ inputs["nested"]["a"].b[1].c }}', 2),
    ("{{ inputs.nested.a.b[2] }}", None),
    ("{{ inputs.values }}", "a key, not the method"),
    ("{{ outputs.t.value }}", {"k": 1, "l": [1, 2]}),
    ("{{ outputs.inner[taskrun.value].value }}", 1),
    ("{{ outputs.inner['b'].value }}", None),
    ("{{ outputs.inner['0'].value }}", "key zero"),
    ("{{ outputs.list[taskrun.n] }}", 20),
    ("{{ outputs.list[taskrun.list[0]] }}", 20),
    ("{{ outputs.items.items }}", 5),
    ("{{ outputs.many['42'].value }}", 42),
    ("{{ tuple[1][0] }}", 2),
    ("{{ s[1] }}", "e"),
    ("{{ proxy.a }}", 1),
    ("{{ proxy.items }}", "proxied"),
    ("{{ obj.a }}", 1),
    ("{{ inputs.big }}", 10**5000),
    ("hello {{ inputs.name }}!", "hello World!"),
    ("{{ inputs.n }} and {{ inputs.f }} and {{ inputs.zero }}", "3 and 1.5 and 0"),
    ("{{ inputs.flag }}/{{ inputs.off }}/{{ inputs.nothing }}/", "true/false//"),
    ("{{ inputs.name }}{{ inputs.name }}", "WorldWorld"),
    ("a {# a comment #}b {{ inputs.n }}", "a b 3"),
    ("{% raw %}{{ x }}{% endraw %} {{ s }}", "{{ x }} text"),
    ("run {{ execution.id }} at {{ execution.startDate }}", "run ex1 at 2026-11-24T10:15:30.123456+00:00"),
    ("[{{ inputs.text }}]", "[héllo \"quoted\" {{ not rendered }}]"),
    ("line\n{{ taskrun.value }}\n", "line\na\n"),
]

#: Templates whose value or error the full path decides (the fast path steps aside or has no plan).
OTHERS: list[str] = [
    "{{ inputs.missing }}",
    "{{ missing }}",
    "{{ missing.x }}",
    "{{ inputs.nothing.x }}",
    "{{ inputs.items[5] }}",
    "{{ inputs.items['0'] }}",
    "{{ inputs.items.x }}",
    "{{ outputs.inner[0] }}",
    "{{ outputs.inner[taskrun.missing].value }}",
    "{{ outputs.inner[taskrun.nope].value }}",
    "{{ outputs.inner[outputs.list].value }}",
    "{{ outputs.inner.c.value }}",
    "{{ inputs.empty.items }}",
    "{{ inputs.name.upper }}",
    "{{ inputs.__class__ }}",
    "{{ inputs._private }}",
    "{{ obj._p }}",
    "{{ obj.__dict__ }}",
    "{{ s.x }}",
    "{{ range }}",
    "{{ secret }}",
    "{{ secret.x }}",
    "{{ inputs.nested.a.b[-1] }}",
    "x {{ inputs.items }}",
    "x {{ outputs.t.value }}",
    "x {{ inputs.missing }} y",
    "x {{ inputs.nothing.x }}",
    "n={{ inputs.big }}",
    "{{ inputs.name | upper }}",
    "{{ inputs.missing ?? 'd' }}",
    "{{ inputs.n + 1 }}",
    "{{ proxy }}",
    "x {{ proxy }}",
    "{{ tuple }}",
]


def outcome(template: str, *, fast: bool, limits: Limits | None = None, context: dict[str, Any] | None = None) -> tuple[str, Any]:
    env = environment(limits or Limits())
    compiled = compile_template(env, template)
    if not fast:
        compiled = dataclasses.replace(compiled, fast=None)
    try:
        value = run_compiled(env, compiled, CONTEXT if context is None else context, FUNCTIONS)
    except ExpressionError as exc:
        return "error", str(exc)
    return "value", value


def same(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    return a == b and type(a[1]) is type(b[1])


@pytest.mark.parametrize(("template", "expected"), FAST, ids=[t for t, _ in FAST])
def test_the_fast_path_answers_lookups_alone_with_the_full_paths_value(template: str, expected: Any) -> None:
    env = environment(Limits())
    compiled = compile_template(env, template)
    assert compiled.fast is not None, f"{template} has no fast plan"
    alone = dataclasses.replace(compiled, template=None)  # a fall-back to Jinja would fail on this
    value = run_compiled(env, alone, CONTEXT, FUNCTIONS)
    assert value == expected and type(value) is type(expected)
    assert same(("value", value), outcome(template, fast=False))


@pytest.mark.parametrize("template", OTHERS)
def test_what_the_fast_path_does_not_answer_renders_as_before(template: str) -> None:
    fast, full = outcome(template, fast=True), outcome(template, fast=False)
    assert same(fast, full), f"{template}: fast path {fast!r}, full path {full!r}"


def test_missing_values_keep_their_messages() -> None:
    kind, message = outcome("{{ inputs.missing }}", fast=True)
    assert kind == "error" and "missing" in message and "inputs.missing" in message
    kind, message = outcome("{{ outputs.inner[taskrun.nope].value }}", fast=True)
    assert kind == "error" and "nope" in message


def test_limits_hold_on_the_fast_path() -> None:
    small = Limits(max_output=12)
    for template in ("{{ inputs.name }} {{ inputs.name }} {{ inputs.name }}", "{{ outputs.many }}", "{{ inputs.big }}"):
        fast, full = outcome(template, fast=True, limits=small), outcome(template, fast=False, limits=small)
        assert fast[0] == "error" and same(fast, full), template
    for size in (6, 7):  # "World" is 7 characters as JSON: refused under 7 on both paths
        fast, full = outcome("{{ inputs.name }}", fast=True, limits=Limits(max_output=size)), outcome(
            "{{ inputs.name }}", fast=False, limits=Limits(max_output=size))
        assert fast[0] == ("error" if size < 7 else "value") and same(fast, full)
    few = Limits(max_items=50)
    fast, full = outcome("{{ outputs.many }}", fast=True, limits=few), outcome("{{ outputs.many }}", fast=False, limits=few)
    assert fast[0] == "error" and "limit" in fast[1] and same(fast, full)


def test_a_runtime_function_shadows_a_context_value_on_both_paths() -> None:
    fast, full = outcome("{{ secret }}", fast=True), outcome("{{ secret }}", fast=False)
    assert fast[0] == full[0] == "value" and fast[1] is not CONTEXT["secret"] and callable(fast[1])


def test_plans_name_their_paths() -> None:
    env = environment(Limits())
    plan = compile_template(env, "{{ outputs.inner[taskrun.value].value }}").fast
    assert isinstance(plan, Path) and plan.name == "outputs" and len(plan.steps) == 3
    text = compile_template(env, "a {{ b.c }} d").fast
    assert isinstance(text, tuple) and text[0] == "a " and isinstance(text[1], Path) and text[2] == " d"
    for template in ("{{ a | upper }}", "{{ a ~ b }}", "{% if a %}x{% endif %}", "{{ a() }}", "{{ a[1:] }}", "{{ self }}"):
        assert compile_template(env, template).fast is None, template


def test_a_bound_renderer_renders_like_render() -> None:
    from engine.expressions import render, renderer

    bound = renderer(functions=FUNCTIONS, limits=Limits(max_output=40))
    values: list[Any] = [
        "{{ inputs.n }}", "plain", None, 3, True, ["{{ inputs.name }}", {"k": "{{ secret('x') }}"}], ("{{ s }}",),
        "{{ inputs.items | length }}",
    ]
    for value in values:
        assert bound(value, CONTEXT) == render(value, CONTEXT, functions=FUNCTIONS, limits=Limits(max_output=40))
    with pytest.raises(ExpressionError, match="over the limit"):
        bound("{{ inputs.text }}{{ inputs.text }}", CONTEXT)  # its limits hold
