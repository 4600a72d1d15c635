"""Unit tests of the expression engine: rendering, Kestra filters, static checks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time

import pytest
import yaml

from engine.expressions import (
    ExpressionError,
    check_syntax,
    is_expression,
    lite,
    referenced_outputs,
    render,
    render_string,
    syntax_errors,
)
from engine.expressions.full_render import compile_template, default_environment

START = "2026-11-24T10:15:30.123456+00:00"


@pytest.fixture
def ctx() -> dict:
    return {
        "inputs": {"n": 3, "name": "World", "flag": True, "items": ["a", "b"], "nothing": None},
        "outputs": {
            "t": {"value": {"k": 1, "l": [1, 2]}},
            "inner": {"a": {"value": 1}, "b": {"value": 2}},
            "nums": {"values": [3, 1, 2]},
        },
        "taskrun": {"value": "a", "attemptsCount": 1},
        "parent": {"taskrun": {"value": "p"}},
        "execution": {"id": "ex1", "startDate": START},
        "flow": {"id": "f", "namespace": "company.team"},
        "vars": {"greeting": "hi"},
        "labels": {"team": "data"},
    }


def r(template: str, ctx: dict, **kw):
    return render(template, ctx, **kw)


# --- native types and text -------------------------------------------------------------------------


def test_single_expression_keeps_native_types(ctx):
    assert r("{{ inputs.n }}", ctx) == 3
    assert r("  {{ inputs.n }}\n", ctx) == 3
    assert r("{{ outputs.t.value }}", ctx) == {"k": 1, "l": [1, 2]}
    assert r("{{ inputs.items }}", ctx) == ["a", "b"]
    assert r("{{ inputs.flag }}", ctx) is True
    assert r("{{ inputs.nothing }}", ctx) is None
    assert r("{{ inputs.n * 2 + 1 }}", ctx) == 7
    assert r("{{ [1, 'x'] }}", ctx) == [1, "x"]
    assert r("{{ range(3) }}", ctx) == [0, 1, 2]  # lazy values become lists


def test_mixed_text_renders_to_string_the_kestra_way(ctx):
    assert r("Hello {{ inputs.name }}!", ctx) == "Hello World!"
    assert r("{{ inputs.n }}{{ inputs.n }}", ctx) == "33"
    assert r("n={{ inputs.n }}", ctx) == "n=3"
    assert r("{{ inputs.flag }} / {{ inputs.nothing }} /", ctx) == "true /  /"
    assert r("v={{ outputs.t.value }}", ctx) == 'v={"k":1,"l":[1,2]}'
    assert r("{{ inputs.name ~ '-' ~ inputs.flag }}", ctx) == "World-true"


def test_render_walks_dicts_and_lists_and_leaves_keys(ctx):
    value = {
        "{{ inputs.name }}": ["{{ inputs.n }}", "x {{ inputs.n }}", 5, None, {"deep": "{{ vars.greeting }}"}],
        "plain": "no template",
        "num": 1.5,
    }
    assert r(value, ctx) == {
        "{{ inputs.name }}": [3, "x 3", 5, None, {"deep": "hi"}],
        "plain": "no template",
        "num": 1.5,
    }
    assert value["plain"] is r(value, ctx)["plain"] or r(value, ctx)["plain"] == "no template"


def test_non_templates_are_returned_as_they_are(ctx):
    assert r("just text { not } a template", ctx) == "just text { not } a template"
    assert r(42, ctx) == 42
    assert r(None, ctx) is None


def test_trailing_newline_of_block_scalars_is_kept(ctx):
    assert r("print('{{ inputs.name }}')\n", ctx) == "print('World')\n"


def test_comments_and_statements(ctx):
    # Pebble's loop.index counts from 0 (Jinja's loop.index0); Kestra flows rely on it.
    assert r("{# note #}{% for i in inputs.items %}{{ loop.index }}{{ i }} {% endfor %}", ctx) == "0a 1b "
    assert r("{% if inputs.n > 2 %}big{% else %}small{% endif %}", ctx) == "big"
    assert r("{{ 'y' if inputs.flag else 'n' }}", ctx) == "y"


def test_render_string_is_always_text(ctx):
    assert render_string("{{ inputs.n }}", ctx) == "3"
    assert render_string("{{ outputs.t.value }}", ctx) == '{"k":1,"l":[1,2]}'
    assert render_string("plain", ctx) == "plain"


def test_kestra_loop_addressing(ctx):
    assert r("{{ outputs.inner[taskrun.value].value }}", ctx) == 1
    assert r("{{ outputs.inner['b'].value }}", ctx) == 2
    assert r('{{ outputs.inner["b"].value }}', ctx) == 2
    assert r("{{ parent.taskrun.value }}-{{ taskrun.attemptsCount }}", ctx) == "p-1"


def test_is_expression():
    assert is_expression("{{ x }}")
    assert is_expression("a {% if x %}{% endif %}")
    assert is_expression("{# c #}")
    assert not is_expression("plain { text }")
    assert not is_expression("")


def test_compiled_templates_are_cached(ctx):
    template = "cached {{ inputs.n + 1 }} " + str(time.time_ns())
    render(template, ctx)
    before = compile_template.cache_info().hits
    render(template, ctx)
    assert compile_template.cache_info().hits == before + 1


def test_lookup_templates_are_read_once_and_never_compiled(ctx):
    template = "cached {{ inputs.n }} " + str(time.time_ns())
    misses = compile_template.cache_info().misses
    assert render(template, ctx) == template.replace("{{ inputs.n }}", "3")
    before = lite.scan.cache_info().hits
    render(template, ctx)
    assert lite.scan.cache_info().hits == before + 1
    assert compile_template.cache_info().misses == misses  # Jinja never saw it


def test_ten_thousand_simple_renders_are_fast(ctx):
    render("Hello {{ inputs.name }}!", ctx)
    start = time.thread_time()  # CPU time: a busy CI machine stretches wall time, not this
    for _ in range(10_000):
        render("Hello {{ inputs.name }}!", ctx)
    assert time.thread_time() - start < 2.0  # ~0.2 s here


# --- undefined values and errors ---------------------------------------------------------------


def test_undefined_attribute_is_an_error_naming_the_path(ctx):
    with pytest.raises(ExpressionError) as info:
        r("{{ inputs.nme }}", ctx)
    message = str(info.value)
    assert message.startswith('cannot render "{{ inputs.nme }}": \'inputs\' has no attribute \'nme\'')
    assert "did you mean 'name'" in message
    assert info.value.template == "{{ inputs.nme }}"


def test_undefined_variable_and_dynamic_key(ctx):
    with pytest.raises(ExpressionError, match="'nope' is undefined"):
        r("x {{ nope }}", ctx)
    with pytest.raises(ExpressionError, match=r"'outputs.inner\[taskrun.value\]' has no attribute 'missing'"):
        r("{{ outputs.inner[taskrun.value].missing }}", ctx)
    with pytest.raises(ExpressionError, match="'nope' is undefined"):
        r("{% if nope %}x{% endif %}", ctx)
    with pytest.raises(ExpressionError, match="'nope' is undefined"):
        r("{% for i in nope %}x{% endfor %}", ctx)


def test_default_and_defined_accept_undefined_and_none(ctx):
    assert r("{{ inputs.nme | default('dflt') }}", ctx) == "dflt"
    assert r("{{ outputs.missing.value.deep | default('x') }}", ctx) == "x"
    assert r("{{ inputs.nothing | default('was none') }}", ctx) == "was none"
    assert r("{{ inputs.n | default(0) }}", ctx) == 3
    assert r("{{ inputs.nme is defined }}", ctx) is False
    assert r("{{ outputs.t.value is defined }}", ctx) is True
    assert r("{{ outputs.nope.x is undefined }}", ctx) is True


def test_runtime_errors_are_expression_errors(ctx):
    with pytest.raises(ExpressionError, match="division by zero"):
        r("{{ 1 / 0 }}", ctx)
    # 'World' + 1 is 'World1' in Pebble; subtraction needs numbers.
    with pytest.raises(ExpressionError, match='cannot render "{{ inputs.name - 1 }}": .*not a number'):
        r("{{ inputs.name - 1 }}", ctx)


# --- functions supplied by the runtime ------------------------------------------------------------


def test_functions_are_injected_per_render(ctx):
    secrets = {"TOKEN": "s3cr3t"}
    assert r("{{ secret('TOKEN') }}", ctx, functions={"secret": secrets.__getitem__}) == "s3cr3t"
    assert r("Bearer {{ secret('TOKEN') }}", ctx, functions={"secret": secrets.get}) == "Bearer s3cr3t"
    with pytest.raises(ExpressionError, match="'secret' is undefined"):
        r("{{ secret('TOKEN') }}", ctx)


def test_function_errors_become_expression_errors(ctx):
    def kv(key: str) -> str:
        raise KeyError(key)

    with pytest.raises(ExpressionError, match="no item 'k'"):
        r("{{ kv('k') }}", ctx, functions={"kv": kv})


def test_builtin_functions(ctx):
    now = r("{{ now() }}", ctx)
    parsed = dt.datetime.fromisoformat(now)
    assert parsed.tzinfo is not None and parsed.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - parsed).total_seconds()) < 5
    assert dt.datetime.fromisoformat(r("{{ now(timeZone='Asia/Tokyo') }}", ctx)).utcoffset() == dt.timedelta(hours=9)
    assert r("{{ fromJson('{\"a\": [1, 2]}') }}", ctx) == {"a": [1, 2]}
    assert r("{{ yaml('a: 1\\nb: [x]') }}", ctx) == {"a": 1, "b": ["x"]}
    # range(start, end) includes its end as in Pebble (Kestra documents range(0, 3) as 0..3); range(n) is Jinja's.
    assert r("{{ range(2, 5) | list }}", ctx) == [2, 3, 4, 5]
    assert r("{{ max(3, 9, 2) }} {{ min([4, 1, 7]) }}", ctx) == "9 1"
    assert r("{{ inputs.nothing == null }}", ctx) is True
    assert r("{{ dict(a=1) }}", ctx) == {"a": 1}


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ execution.startDate | date('yyyy-MM-dd') }}", "2026-11-24"),
        ("{{ execution.startDate | date(\"yyyy-MM-dd'T'HH:mm:ss\") }}", "2026-11-24T10:15:30"),
        ("{{ execution.startDate | date('HH:mm') }}", "10:15"),
        ("{{ execution.startDate | date('EEEE, EEE d MMMM MMM yy') }}", "Tuesday, Tue 24 November Nov 26"),
        ("{{ execution.startDate | date('yyyy-MM-dd HH:mm:ss.SSSXXX') }}", "2026-11-24 10:15:30.123Z"),
        ("{{ execution.startDate | date('h:mm a, D Q w') }}", "10:15 AM, 328 4 48"),
        ("{{ execution.startDate | date('HH:mm XXX VV', timeZone='Europe/Paris') }}", "11:15 +01:00 Europe/Paris"),
        ("{{ execution.startDate | date('HH:mm Z', timeZone='America/New_York') }}", "05:15 -0500"),
        ("{{ execution.startDate | date(\"'Quoted ''text'' 'yyyy\") }}", "Quoted 'text' 2026"),
        ("{{ execution.startDate | date }}", "2026-11-24T10:15:30.123456Z"),
        ("{{ execution.startDate | date('sql') }}", "2026-11-24 10:15:30.123456"),
        ("{{ execution.startDate | date('iso_date') }}", "2026-11-24"),
        ("{{ 0 | date('yyyy-MM-dd HH:mm') }}", "1970-01-01 00:00"),
        ("{{ '1700000000' | date('yyyy-MM-dd') }}", "2023-11-14"),
        ("{{ '24/11/2026 08:05' | date('yyyy-MM-dd HH:mm', existingFormat='dd/MM/yyyy HH:mm') }}", "2026-11-24 08:05"),
    ],
)
def test_date_filter(ctx, template, expected):
    assert r(template, ctx) == expected


def test_date_filter_accepts_datetime_objects(ctx):
    ctx["trigger"] = {"date": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)}
    ctx["day"] = dt.date(2026, 2, 3)
    assert r("{{ trigger.date | date('yyyy-MM-dd HH:mm:ss') }}", ctx) == "2026-01-02 03:04:05"
    assert r("{{ day | date('dd.MM.yyyy') }}", ctx) == "03.02.2026"


def test_date_filter_errors(ctx):
    with pytest.raises(ExpressionError, match="expects an ISO-8601 date"):
        r("{{ 'not a date' | date('yyyy') }}", ctx)
    with pytest.raises(ExpressionError, match="unknown date pattern letter 'J'"):
        r("{{ execution.startDate | date('J') }}", ctx)
    with pytest.raises(ExpressionError, match="unknown time zone 'Mars/Base'"):
        r("{{ execution.startDate | date('yyyy', timeZone='Mars/Base') }}", ctx)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ execution.startDate | dateAdd(1, 'DAYS') }}", "2026-11-25T10:15:30.123456+00:00"),
        ("{{ execution.startDate | dateAdd(-2, 'HOURS') }}", "2026-11-24T08:15:30.123456+00:00"),
        ("{{ execution.startDate | dateAdd(30, 'SECONDS') }}", "2026-11-24T10:16:00.123456+00:00"),
        ("{{ execution.startDate | dateAdd(5, 'MINUTES') }}", "2026-11-24T10:20:30.123456+00:00"),
        ("{{ execution.startDate | dateAdd(2, 'WEEKS') }}", "2026-12-08T10:15:30.123456+00:00"),
        ("{{ execution.startDate | dateAdd(3, 'MONTHS') }}", "2027-02-24T10:15:30.123456+00:00"),
        ("{{ execution.startDate | dateAdd(-1, 'YEARS') }}", "2025-11-24T10:15:30.123456+00:00"),
        ("{{ '2024-01-31T00:00:00+00:00' | dateAdd(1, 'MONTHS') }}", "2024-02-29T00:00:00+00:00"),
        ("{{ execution.startDate | dateAdd(1, 'DAYS') | date('yyyy-MM-dd') }}", "2026-11-25"),
    ],
)
def test_date_add(ctx, template, expected):
    assert r(template, ctx) == expected


def test_date_add_rejects_unknown_units(ctx):
    with pytest.raises(ExpressionError, match="dateAdd unit must be one of"):
        r("{{ execution.startDate | dateAdd(1, 'FORTNIGHTS') }}", ctx)


def test_timestamps(ctx):
    seconds = int(dt.datetime.fromisoformat(START).timestamp())
    assert r("{{ execution.startDate | timestamp }}", ctx) == seconds
    assert r("{{ execution.startDate | timestampMilli }}", ctx) == seconds * 1000 + 123
    assert r("{{ execution.startDate | timestampMicro }}", ctx) == seconds * 1_000_000 + 123456
    assert r("{{ execution.startDate | timestampNano }}", ctx) == (seconds * 1_000_000 + 123456) * 1000


def test_number_filter(ctx):
    assert r("{{ '12' | number }}", ctx) == 12
    assert isinstance(r("{{ '12' | number }}", ctx), int)
    assert r("{{ '1.5' | number }}", ctx) == 1.5
    assert r("{{ ' -3 ' | number }}", ctx) == -3
    assert r("{{ '7' | number('FLOAT') }}", ctx) == 7.0
    assert r("{{ ('2' | number) + 1 }}", ctx) == 3
    with pytest.raises(ExpressionError, match="'abc' is not a number"):
        r("{{ 'abc' | number }}", ctx)


def test_json_filters(ctx):
    assert r("{{ outputs.t.value | toJson }}", ctx) == '{"k":1,"l":[1,2]}'
    assert r("{{ outputs.t.value | json }}", ctx) == '{"k":1,"l":[1,2]}'
    assert r("{{ 'é' | toJson }}", ctx) == '"é"'
    assert r("{{ '[1, {\"a\": null}]' | fromJson }}", ctx) == [1, {"a": None}]
    assert r("{{ (outputs.t.value | toJson | fromJson).l[1] }}", ctx) == 2
    with pytest.raises(ExpressionError, match="fromJson got invalid JSON"):
        r("{{ '{oops' | fromJson }}", ctx)


def test_yaml_filter(ctx):
    dumped = r("{{ outputs.t.value | yaml }}", ctx)
    assert yaml.safe_load(dumped) == {"k": 1, "l": [1, 2]}
    assert "k: 1" in dumped


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'abc' | upper }}", "ABC"),
        ("{{ 'ABC' | lower }}", "abc"),
        ("{{ 'hello wORLD' | capitalize }}", "Hello wORLD"),
        ("{{ 'hello world' | title }}", "Hello World"),
        ("{{ '  pad  ' | trim }}", "pad"),
        ("{{ -4 | abs }}", 4),
        ("{{ inputs.items | first }}", "a"),
        ("{{ inputs.items | last }}", "b"),
        ("{{ inputs.items | length }}", 2),
        ("{{ inputs.name | length }}", 5),
        ("{{ inputs.items | join(', ') }}", "a, b"),
        ("{{ [1, none, true] | join('-') }}", "1--true"),
        ("{{ {'a': 1, 'b': 2} | keys }}", ["a", "b"]),
        ("{{ {'a': 1, 'b': 2} | values }}", [1, 2]),
        ("{{ 'a,b,,c' | split(',') }}", ["a", "b", "", "c"]),
        ("{{ 'a.b.c' | split('.', 2) }}", ["a", "b.c"]),
        ("{{ 'hello world' | replace('o', '0') }}", "hell0 w0rld"),
        ("{{ 'I like %this% and %that%' | replace({'%this%': 'tea', '%that%': 'cake'}) }}", "I like tea and cake"),
        ("{{ 'Héllo, Wörld! 2026' | slugify }}", "hello-world-2026"),
        ("{{ 'abcdefghij' | abbreviate(7) }}", "abcd..."),
        ("{{ 'a/b/c' | substringBefore('/') }}", "a"),
        ("{{ 'a/b/c' | substringAfter('/') }}", "b/c"),
        ("{{ 'a/b/c' | substringBeforeLast('/') }}", "a/b"),
        ("{{ 'a/b/c' | substringAfterLast('/') }}", "c"),
        ("{{ 'a b&c=d/é' | urlencode }}", "a+b%26c%3Dd%2F%C3%A9"),
        ("{{ 'a+b%26c' | urldecode }}", "a b&c"),
        ("{{ 'report.csv' | startsWith('rep') }}", True),
        ("{{ 'report.csv' | endsWith('.txt') }}", False),
        ("{{ 'report.csv' is startsWith('rep') }}", True),
        ("{{ 'report.csv' is endsWith('.csv') }}", True),
        ("{{ [1, 2, 3, 4, 5] | chunk(2) }}", [[1, 2], [3, 4], [5]]),
        ("{{ [3, 1, 3, 2, 1] | distinct }}", [3, 1, 2]),
        ("{{ outputs.nums['values'] | sort }}", [1, 2, 3]),
        ("{{ outputs.nums['values'] | rsort }}", [3, 2, 1]),
        ("{{ outputs.nums['values'] | reverse }}", [2, 1, 3]),
        ("{{ 'abc' | reverse }}", "cba"),
        ("{{ [1, 2] | merge([3]) }}", [1, 2, 3]),
        ("{{ {'a': 1, 'b': 1} | merge({'b': 2}) }}", {"a": 1, "b": 2}),
        ("{{ 'a\nb' | indent(2) }}", "a\n  b"),
        ("{{ 'a\nb' | nindent(2) }}", "\n  a\n  b"),
        ("{{ '%s-%03d' | format('x', 7) }}", "x-007"),
        ("{{ [1, 2, 3] | map('string') | join }}", "123"),
        ("{{ [1, 2, 3] | select('odd') | list }}", [1, 3]),
        ("{{ [1, 2, 3] | sum }}", 6),
        ("{{ [{'n': 1}, {'n': 4}] | sum(attribute='n') }}", 5),
        ("{{ [[1], [2]] | sum(start=[]) }}", [1, 2]),
        ("{{ inputs.nothing is null }}", True),
        ("{{ [] is empty }}", True),
        ("{{ inputs.items is empty }}", False),
        ("{{ inputs.items is contains('a') }}", True),
        ("{{ 'a' in inputs.items }}", True),
    ],
)
def test_filters(ctx, template, expected):
    assert r(template, ctx) == expected


def test_hash_and_base64_filters(ctx):
    assert r("{{ 'abc' | sha256 }}", ctx) == hashlib.sha256(b"abc").hexdigest()
    assert r("{{ 'abc' | md5 }}", ctx) == hashlib.md5(b"abc").hexdigest()
    encoded = r("{{ 'héllo' | base64encode }}", ctx)
    assert encoded == base64.b64encode("héllo".encode()).decode()
    assert r("{{ 'héllo' | base64encode | base64decode }}", ctx) == "héllo"
    with pytest.raises(ExpressionError, match="not valid base64"):
        r("{{ '***' | base64decode }}", ctx)


def test_filters_work_in_text_too(ctx):
    assert r("items: {{ inputs.items | toJson }} at {{ execution.startDate | date('yyyy') }}", ctx) == (
        'items: ["a","b"] at 2026'
    )
    assert json.loads(r("{{ outputs | toJson }}", ctx))["inner"]["b"] == {"value": 2}


# --- static checks -----------------------------------------------------------------------------


def test_referenced_outputs():
    assert referenced_outputs("{{ outputs.a.value }} {{ outputs['b'] }} {{ outputs[\"c\"].x }}") == {"a", "b", "c"}
    assert referenced_outputs("{% for x in outputs.loop.values %}{{ x }}{% endfor %}") == {"loop"}
    assert referenced_outputs("{{ outputs.inner[taskrun.value].value }}") == {"inner"}
    assert referenced_outputs("{{ parent.outputs.x }} {{ inputs.outputs }} {{ outputs[key] }}") == set()
    assert referenced_outputs("no template") == set()
    with pytest.raises(ExpressionError):
        referenced_outputs("{{ outputs.a. }}")


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ inputs.x ", "unexpected end of template"),
        ("{% if x %}no end", "endif"),
        ("{{ a ?? }}", "unexpected 'end of print statement' (column 9)"),
        ("{{ a ? b }}", "expected token ':'"),
        ("{{ x | nosuchfilter }}", "no filter named 'nosuchfilter'"),
        ("{{ x is nosuchtest }}", "no test named 'nosuchtest'"),
        ("{% for i in 0.. %}{% endfor %}", "unexpected"),
        ("{% include 'other' %}", "cannot load other templates"),
    ],
)
def test_check_syntax_rejects_broken_templates(template, reason):
    with pytest.raises(ExpressionError) as info:
        check_syntax(template)
    assert reason in str(info.value)
    assert str(info.value).startswith("cannot parse")
    assert info.value.template == template


def test_check_syntax_accepts_valid_templates():
    check_syntax("{{ inputs.x | default('y') | upper }} {% for i in range(3) %}{{ i }}{% endfor %}")
    check_syntax("not a template {")


def test_syntax_errors_walks_values():
    errors = syntax_errors({"a": "{{ ok }}", "b": ["fine", {"c": "{{ broken "}], "d": 3})
    assert [path for path, _ in errors] == [("b", 1, "c")]
    assert "cannot parse" in errors[0][1]


def test_default_environment_has_no_object_globals():
    env = default_environment()
    assert not {"cycler", "joiner", "namespace", "lipsum"} & set(env.globals)
    assert {"striptags", "urlize", "wordwrap", "xmlattr"}.isdisjoint(env.filters)
