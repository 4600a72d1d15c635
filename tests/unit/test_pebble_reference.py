"""Kestra's expression language, construct by construct: the rendered value for several inputs.

Each row is (template, expected): a value (a single ``{{ }}`` keeps its type)
or ``Err("part of the message")``. The inputs cover null, missing, empty and
mixed types. Values were worked out from Kestra's expression reference and
from the behaviour of Pebble's and Kestra's Java code, then written here in
our own words.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

import pytest

from engine.expressions import ExpressionError, check_syntax, render

CTX = {
    "inputs": {
        "n": 3,
        "f": 1.5,
        "s": "World",
        "none": None,
        "empty": "",
        "blank": "  ",
        "list": [1, 2, 3],
        "words": ["pear", "apple"],
        "nolist": [],
        "map": {"a": 1, "b": 2},
        "nomap": {},
        "numtext": "6",
        "flag": True,
        "day": "2024-03-15T10:20:30+00:00",
        "json": '{"items": [{"id": 1, "tags": ["x"]}, {"id": 2, "tags": []}]}',
    },
    "outputs": {
        "make": {"a": {"values": {"data": "A"}}, "b": {"values": {"data": "B"}}},
        "nested": {"o": {"i": {"value": "o/i"}}},
    },
    "taskrun": {"value": "b"},
    "vars": {"greeting": "Hello {{ inputs.s }}", "twice": "{{ vars.greeting }}!"},
    "block": {"test": {"child": "awesome"}},
    "inner": "test",
    "envs": {"api_url_prod": "https://prod"},
    "execution": {"id": "ex1", "startDate": "2024-03-15T10:20:30.123456+00:00"},
}


@dataclass(frozen=True)
class Err:
    """The render fails and the message contains ``part``."""

    part: str


ROWS = [
    # --- ?? and ??? -------------------------------------------------------------------------------
    ("{{ inputs.s ?? 'd' }}", "World"),
    ("{{ inputs.none ?? 'd' }}", "d"),
    ("{{ inputs.missing ?? 'd' }}", "d"),
    ("{{ missing.deep.path ?? 'd' }}", "d"),
    ("{{ inputs.empty ?? 'd' }}", ""),
    ("{{ inputs.missing ?? inputs.none ?? inputs.n }}", 3),
    ("{{ inputs.none ??? 'd' }}", None),
    ("{{ inputs.missing ??? 'd' }}", "d"),
    ("{{ (inputs.none ??? 'd') ?? 'other' }}", "other"),
    ("{{ missing ?? missing2 }}", Err("'missing2' is undefined")),
    ("{{ inputs.missing | upper ?? 'was missing' }}", "was missing"),
    ("{{ inputs.missing ?? inputs.day | date('yyyy') }}", "2024"),
    ("{{ null ?? 1 + 1 }}", 2),
    ("{{ block[missing].child ?? block[inner].child }}", "awesome"),
    # --- ternary ----------------------------------------------------------------------------------
    ("{{ inputs.n > 2 ? 'big' : 'small' }}", "big"),
    ("{{ inputs.none ? 'yes' : 'no' }}", "no"),
    ("{{ inputs.empty ? 'yes' : 'no' }}", "no"),
    ("{{ inputs.list ? 'yes' : 'no' }}", "yes"),
    ("{{ inputs.nolist ? 'yes' : 'no' }}", "no"),
    ("{{ 0 ? 'yes' : 'no' }}", "no"),
    ("{{ inputs.n == 1 ? 'one' : inputs.n == 3 ? 'three' : 'many' }}", "three"),
    ("{{ inputs.missing is defined ? inputs.missing : 'fallback' }}", "fallback"),
    ("{{ inputs.missing ? 1 : 2 }}", Err("'inputs' has no attribute 'missing'")),
    ("{{ 'y' if inputs.flag else 'n' }}", "y"),
    # --- contains, equals, isIn, notIn, in ----------------------------------------------------------
    ("{{ inputs.words contains 'apple' }}", True),
    ("{{ inputs.words contains ['apple', 'pear'] }}", True),
    ("{{ inputs.words contains ['apple', 'plum'] }}", False),
    ("{{ inputs.map contains 'a' }}", True),
    ("{{ inputs.s contains 'orl' }}", True),
    ("{{ inputs.none contains 'x' }}", False),
    ("{{ inputs.n contains 3 }}", Err("contains needs a list, a map or a text")),
    ("{{ inputs.s equals 'World' }}", True),
    ("{{ inputs.n isIn [1, 2, 3] }}", True),
    ("{{ '3' isIn [1, 2, 3] }}", True),
    ("{{ 'c' isIn inputs.map }}", False),
    ("{{ inputs.none isIn [null] }}", False),
    ("{{ 'x' notIn ['a', 'b'] }}", True),
    ("{{ 2 in inputs.list }}", True),
    ("{{ 9 not in inputs.list }}", True),
    # --- ranges -----------------------------------------------------------------------------------
    ("{{ 1..4 }}", [1, 2, 3, 4]),
    ("{{ 3..1 }}", []),
    ("{{ 'a'..'c' }}", ["a", "b", "c"]),
    ("{{ range(0, 6, 2) }}", [0, 2, 4, 6]),
    ("{{ range(3, 1, -1) }}", [3, 2, 1]),
    ("{{ range(3) | list }}", [0, 1, 2]),
    ("{{ 0..inputs.n }}", [0, 1, 2, 3]),
    ("{{ 0..inputs.none }}", Err("needs numbers, not null")),
    ("{{ 1..10000000 }}", Err("over the limit of 100,000")),
    # --- concatenation and arithmetic -------------------------------------------------------------
    ("{{ 'a' ~ inputs.n ~ inputs.none ~ inputs.flag }}", "a3true"),
    ("{{ 'a' ~ 'b' | upper }}", "AB"),
    ("{{ 'n=' + inputs.n }}", "n=3"),
    ("{{ inputs.s + inputs.none }}", "Worldnull"),
    ("{{ inputs.n + inputs.f }}", 4.5),
    ("{{ inputs.list + 4 }}", [1, 2, 3, 4]),
    ("{{ inputs.list + [4, 5] }}", [1, 2, 3, 4, 5]),
    ("{{ inputs.list - 2 }}", [1, 3]),
    ("{{ inputs.numtext * 2 }}", 12),
    ("{{ inputs.numtext - 1 }}", 5),
    ("{{ 'ab' * 2 }}", "abab"),
    ("{{ 7 / 2 }}", 3),
    ("{{ -7 / 2 }}", -3),
    ("{{ 7 / 2.0 }}", 3.5),
    ("{{ 7 // 2 }}", 3),
    ("{{ -7 % 3 }}", -1),
    ("{{ 7.5 % 2 }}", 1.5),
    ("{{ 2 + 2 / (10 % 3) * (8 - 1) }}", 16),
    ("{{ 1 / 0 }}", Err("division by zero")),
    ("{{ inputs.none + 1 }}", Err("needs numbers, not null")),
    ("{{ inputs.s - 1 }}", Err("'World' is not a number")),
    ("{{ 10l * 2.5 + 100 }}", 125.0),
    ("{{ -inputs.n | abs }}", 3),
    # --- comparisons ------------------------------------------------------------------------------
    ("{{ 1 == 1.0 }}", True),
    ("{{ true == 1 }}", False),
    ("{{ inputs.none == null }}", True),
    ("{{ inputs.none != null }}", False),
    ("{{ inputs.none > 1 }}", False),
    ("{{ inputs.none <= 1 }}", False),
    ("{{ 'apple' < 'pear' }}", True),
    ("{{ inputs.numtext > 5 }}", True),
    ("{{ inputs.s > 5 }}", Err("cannot compare 'World' > 5")),
    ("{{ inputs.day > '2024-01-01T00:00:00Z' }}", True),
    # --- and, or, not -----------------------------------------------------------------------------
    ("{{ inputs.s and inputs.n }}", True),
    ("{{ inputs.empty or inputs.nolist }}", False),
    ("{{ inputs.none or 0 }}", False),
    ("{{ not inputs.flag }}", False),
    ("{{ not inputs.none is null }}", False),
    ("{{ 2 is even and 3 is odd }}", True),
    ("{{ (3 is not even) and (2 is odd or 3 is even) }}", False),
    ("{{ inputs.missing and true }}", Err("'inputs' has no attribute 'missing'")),
    # --- tests ------------------------------------------------------------------------------------
    ("{{ inputs.s is defined }}", True),
    ("{{ inputs.none is defined }}", False),
    ("{{ inputs.missing is defined }}", False),
    ("{{ inputs.missing is not defined }}", True),
    ("{{ inputs.list[7] is defined }}", False),
    ("{{ inputs.none is null }}", True),
    ("{{ inputs.empty is null }}", False),
    ("{{ inputs.missing is null }}", Err("'inputs' has no attribute 'missing'")),
    ("{{ inputs.none is empty }}", True),
    ("{{ inputs.blank is empty }}", True),
    ("{{ inputs.nomap is empty }}", True),
    ("{{ inputs.nolist is empty }}", True),
    ("{{ 0 is empty }}", False),
    ("{{ 4 is even }}", True),
    ("{{ 4 is odd }}", False),
    ("{{ inputs.none is even }}", Err("needs a whole number")),
    ("{{ inputs.list is iterable }}", True),
    ("{{ inputs.s is iterable }}", False),
    ("{{ inputs.map is iterable }}", False),
    ("{{ inputs.map is map }}", True),
    ("{{ inputs.list is map }}", False),
    ("{{ inputs.json is json }}", True),
    ("{{ inputs.s is json }}", False),
    ("{{ inputs.n is json }}", False),
    # --- tags -------------------------------------------------------------------------------------
    ("{% if inputs.n == 1 %}one{% elseif inputs.n == 3 %}three{% else %}other{% endif %}", "three"),
    ("{% if inputs.none %}yes{% else %}no{% endif %}", "no"),
    ("{% for x in inputs.words %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", "0pear,1apple"),
    ("{% for x in inputs.list %}{{ loop.revindex }}{{ loop.first }}{% endfor %}", "2true1false0false"),
    ("{% for x in inputs.list %}{{ loop.length }}{% endfor %}", "333"),
    ("{% for e in inputs.map %}{{ e.key }}={{ e.value }};{% endfor %}", "a=1;b=2;"),
    ("{% for k in inputs.map %}{{ inputs.map[k] }}{% endfor %}", "12"),
    ("{% for x in inputs.none %}x{% else %}empty{% endfor %}", "empty"),
    ("{% for x in inputs.nolist %}x{% else %}empty{% endfor %}", "empty"),
    ("{% for i in 1..3 %}{{ i }}{% endfor %}", "123"),
    ("{% set header = 'Welcome' %}{{ header }}", "Welcome"),
    ("{% raw %}{{ user.name }}{% endraw %}", "{{ user.name }}"),
    ("{% filter lower | title %}HELLO world{% endfilter %}", "Hello World"),
    ('{% macro input(type="text", name, value) %}{{ type }}|{{ name }}|{{ value }}{% endmacro %}{{ input(name="n") }}', "text|n|"),
    ("{% set foo = 'bar' %}{% macro show(_context) %}{{ _context.foo }}{% endmacro %}{{ show(_context) }}", "bar"),
    ('{% block "post" %}[content]{% endblock %}{{ block("post") }}', "[content][content]"),
    ("{# comment #}x", "x"),
    # --- render -----------------------------------------------------------------------------------
    ("{{ vars.greeting }}", "Hello {{ inputs.s }}"),
    ("{{ render(vars.greeting) }}", "Hello World"),
    ("{{ render(vars.twice) }}", "Hello World!"),
    ("{{ renderOnce(vars.twice) }}", "Hello {{ inputs.s }}!"),
    ("{{ render(vars.twice, recursive=false) }}", "Hello {{ inputs.s }}!"),
    ("{{ render('{{ inputs.n * 2 }}') }}", 6),
    ("{{ render({'k': '{{ inputs.s }}'}) }}", {"k": "World"}),
    ("{{ render(inputs.none) }}", None),
    ("{{ render(inputs.missing) }}", Err("'inputs' has no attribute 'missing'")),
    # --- jq ---------------------------------------------------------------------------------------
    ("{{ inputs.json | jq('.items[].id') }}", [1, 2]),
    ("{{ inputs.json | jq('.items[0].id') | first }}", 1),
    ("{{ inputs.map | jq('.a + .b') | first }}", 3),
    ("{{ inputs.list | jq('map(. * 10)') | first }}", [10, 20, 30]),
    ("{{ inputs.map | jq('.missing') }}", [None]),
    ("{{ inputs.map | values | jq('reduce .[] as $x (0; . + $x)') | first }}", 3),
    ("{{ inputs.none | jq('.') }}", None),
    ("{{ inputs.s | jq('.') }}", Err("jq('.') failed")),
    ("{{ inputs.map | jq('.[') }}", Err("syntax error")),
    # --- default, length, first, last and other Pebble filters ------------------------------------
    ("{{ inputs.none | default('d') }}", "d"),
    ("{{ inputs.blank | default('d') }}", "d"),
    ("{{ inputs.nolist | default('d') }}", "d"),
    ("{{ inputs.missing | default('d') }}", "d"),
    ("{{ 0 | default('d') }}", 0),
    ("{{ 0 | default('d', true) }}", "d"),
    ("{{ inputs.none | length }}", 0),
    ("{{ inputs.map | length }}", 2),
    ("{{ inputs.n | length }}", 0),
    ("{{ inputs.nolist | first }}", None),
    ("{{ inputs.s | first }}", "W"),
    ("{{ inputs.s | last }}", "d"),
    ("{{ inputs.none | first }}", None),
    ("{{ inputs.none | upper }}", None),
    ("{{ inputs.none | join(',') }}", None),
    ("{{ ['apple', 'banana', 'cherry'] | slice(1, 2) }}", ["banana"]),
    ("{{ 'Kestra' | slice(1, 3) }}", "es"),
    ("{{ 'this is a long sentence.' | abbreviate(7) }}", "this..."),
    ("{{ 'short' | abbreviate(10) }}", "short"),
    ("{{ 'article title wORDS' | title }}", "Article Title WORDS"),
    ("{{ 'hello world' | capitalize }}", "Hello world"),
    ("{{ inputs.list | join(', ') }}", "1, 2, 3"),
    ("{{ [3, 1, 2] | sort }}", [1, 2, 3]),
    ("{{ [3, 1, 2] | rsort }}", [3, 2, 1]),
    ("{{ [[1, 2], [3], 4] | flatten }}", [1, 2, 3, 4]),
    ("{{ [1, 2, 3, 4, 5] | chunk(2) }}", [[1, 2], [3, 4], [5]]),
    ("{{ [1, 2, 2, 3, 1] | distinct }}", [1, 2, 3]),
    ("{{ inputs.map | keys }}", ["a", "b"]),
    ("{{ inputs.words | keys }}", [0, 1]),
    ("{{ inputs.map | values }}", [1, 2]),
    ("{{ [1, 2] | merge([3, 4]) }}", [1, 2, 3, 4]),
    ("{{ 'a,b,,c,,' | split(',') }}", ["a", "b", "", "c"]),
    ("{{ 'a,b,,' | split(',', -1) }}", ["a", "b", "", ""]),
    ("{{ 'apple,banana,cherry,grape' | split(',', 2) }}", ["apple", "banana,cherry,grape"]),
    ("{{ 'a.b.c' | split('\\\\.') }}", ["a", "b", "c"]),
    ("{{ 'a1b22c333' | split('[0-9]+') }}", ["a", "b", "c"]),
    ("{{ 'I like %this% and %that%.' | replace({'%this%': 'tea', '%that%': inputs.s}) }}", "I like tea and World."),
    ("{{ 'a1b22' | replace({'[0-9]+': '#'}, regexp=true) }}", "a#b#"),
    ("{{ {'k': 'a-b', 'l': ['c-d']} | replace({'-': '+'}) }}", {"k": "a+b", "l": ["c+d"]}),
    ("{{ 'order-12345-done' | regexExtract('[0-9]+') }}", "12345"),
    ("{{ 'key=value' | regexExtract('(\\\\w+)=(\\\\w+)', 2) }}", "value"),
    ("{{ 'none here' | regexExtract('[0-9]+') }}", None),
    ("{{ 'hello world' | regexMatch('wor') }}", True),
    ("{{ inputs.none | regexMatch('x') }}", False),
    ("{{ '2024-03-15' | regexReplace('(\\\\d+)-(\\\\d+)-(\\\\d+)', '$3/$2/$1') }}", "15/03/2024"),
    ("{{ 'x' | regexMatch('(?=x)') }}", Err("look-around and back-references are not available")),
    ("{{ \"Can't be here\" | escapeChar('single') }}", "Can\\'t be here"),
    ("{{ \"it's\" | escapeChar('shell') }}", "it'\\''s"),
    ('{{ \'say "hi"\' | escapeChar(\'double\') }}', 'say \\"hi\\"'),
    ("{{ 3.141592653 | numberFormat('#.##') }}", "3.14"),
    ("{{ 1234567.891 | numberFormat('#,##0.00') }}", "1,234,567.89"),
    ("{{ 0.256 | numberFormat('#%') }}", "26%"),
    ("{{ 7 | numberFormat('000') }}", "007"),
    ("{{ inputs.none | numberFormat('#') }}", None),
    ("{{ inputs.s | numberFormat('#') }}", Err("numberFormat needs a number")),
    ("{{ '12.3' | number | className }}", "java.lang.Double"),
    ("{{ inputs.s | className }}", "java.lang.String"),
    ("{{ inputs.map | className }}", "java.util.LinkedHashMap"),
    ("{{ '9223372036854775807' | number('BIGDECIMAL') }}", 9223372036854775807.0),
    ("{{ 'key: value\nk2: v2' | indent(2) }}", "key: value\n  k2: v2"),
    ("{{ 'key: value\nk2: v2' | nindent(2) }}", "\n  key: value\n  k2: v2"),
    ("{{ 'a\nb' | indent(1, '>') }}", "a\n>b"),
    ("{{ 'The string ü@foo-bar' | urlencode }}", "The+string+%C3%BC%40foo-bar"),
    ("{{ 'The+string+%C3%BC%40foo-bar' | urldecode }}", "The string ü@foo-bar"),
    ("{{ 'test' | sha1 }}", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"),
    ("{{ 'test' | base64encode }}", "dGVzdA=="),
    ("{{ 'Hello World!' | slugify }}", "hello-world"),
    ("{{ 'a.b.c' | substringBeforeLast('.') }}", "a.b"),
    ("{{ 123 | string }}", "123"),
    ("{{ [1, 2, 3] | toJson }}", "[1,2,3]"),
    ("{{ inputs.none | toJson }}", "null"),
    ("{{ {'key': 'value'} | yaml }}", "key: value\n"),
    ("{{ 'line1\nline2' | nl2br }}", "line1<br />\nline2"),
    # --- Ion ----------------------------------------------------------------------------------------
    ("{{ {'a': 1, 'b': 'x', 'c': [true, null]} | toIon }}", '{a:1,b:"x",c:[true,null]}'),
    ("{{ inputs.none | toIon }}", "null"),
    ("{{ fromIon('{a:1,b:\"x\"}') }}", {"a": 1, "b": "x"}),
    ("{{ fromIon('{a:1} {a:2}', allRows=true) }}", [{"a": 1}, {"a": 2}]),
    ("{{ fromIon('{a:1.5e0, b:2.50, c:null.int}') }}", {"a": 1.5, "b": 2.5, "c": None}),
    ("{{ fromIon(inputs.none) }}", None),
    ("{{ fromIon('{a:') }}", Err("fromIon() got invalid Ion")),
    # --- dates --------------------------------------------------------------------------------------
    ("{{ inputs.day | date('yyyy-MM-dd') }}", "2024-03-15"),
    ("{{ inputs.day | date('iso_sec') }}", "2024-03-15T10:20:30Z"),
    ("{{ inputs.day | date('sql_seq') }}", "2024-03-15 10:20:30"),
    ("{{ inputs.day | date(\"EEEE d MMMM yyyy HH:mm\", timeZone='Europe/Paris') }}", "Friday 15 March 2024 11:20"),
    ("{{ inputs.none | date('yyyy') }}", None),
    ("{{ 'July 24, 2001' | date('yyyy-MM-dd', existingFormat='MMMM dd, yyyy') }}", "2001-07-24"),
    ("{{ inputs.day | dateAdd(-1, 'DAYS') | date('yyyy-MM-dd') }}", "2024-03-14"),
    ("{{ inputs.day | dateAdd(1, 'MONTHS', format='yyyy-MM-dd') }}", "2024-04-15"),
    ("{{ inputs.day | timestamp }}", 1710498030),
    ("{{ inputs.day | timestampMilli }}", 1710498030000),
    ("{{ inputs.none | timestamp }}", None),
    ("{{ isWeekend('2024-03-16') }}", True),
    ("{{ isWeekend(inputs.day) }}", False),
    ("{{ dayOfWeek(inputs.day) }}", "FRIDAY"),
    ("{{ dayOfMonth(inputs.day) }} {{ monthOfYear(inputs.day) }} {{ hourOfDay(inputs.day) }}", "15 3 10"),
    ("{{ isDayWeekInMonth('2024-03-04', 'MONDAY', 'FIRST') }}", True),
    ("{{ isDayWeekInMonth('2024-03-25', 'monday', 'LAST') }}", True),
    ("{{ isDayWeekInMonth('2024-03-18', 'MONDAY', 'LAST') }}", False),
    ("{{ isLastWorkingDay('2024-03-29') }}", True),
    ("{{ isLastWorkingDay('2024-03-31') }}", False),
    ("{{ isDateBetween(inputs.day, '2024-01-01T00:00:00Z', '2024-12-31T00:00:00+01:00') }}", True),
    ("{{ isDateBetween('2024-01-01T00:00:00', '2023-01-01T00:00:00Z', '2025-01-01T00:00:00Z') }}", Err("has no offset")),
    ("{{ isPublicHoliday('2024-07-04', 'US') }}", True),
    ("{{ isPublicHoliday('2024-07-05', 'US') }}", False),
    ("{{ isPublicHoliday('2024-01-06', 'DE', 'DE-BY') }}", True),
    ("{{ isPublicHoliday('2024-01-06', 'DE', 'DE-BE') }}", False),
    ("{{ dayOfWeek(inputs.none) }}", Err("expects a 'date' argument")),
    # --- context functions ----------------------------------------------------------------------------
    ("{{ currentEachOutput(outputs.make).values.data }}", "B"),
    ("{{ currentEachOutput(outputs.nested) }}", None),
    ("{{ printContext().inputs.n }}", 3),
    ("{{ env('API_URL_' ~ 'prod') }}", "https://prod"),
    ("{{ env('missing', 'dflt') }}", "dflt"),
    ("{{ loopOutputs([{'outputs': {'r': 1}}, {'outputs': {}}], 'r') }}", [1, None]),
    ("{{ iterationOutput() }}", Err("can only be used inside a task that repeats")),
    ("{{ randomInt(5, 5) }}", 5),
    ("{{ randomInt(5, 1) }}", Err("upper (1) is less than lower (5)")),
    ("{{ nanoId(length=5, alphabet='a') }}", "aaaaa"),
    ("{{ decrypt('AAAAAAAAAAAAAAAAAAAAAA==', encrypt('AAAAAAAAAAAAAAAAAAAAAA==', 'toto')) }}", "toto"),
    ("{{ encrypt('AAAAAAAAAAAAAAAAAAAAAA==', inputs.none) }}", None),
    ("{{ encrypt('not a key', 'x') }}", Err("neither a name set in LANNER_ENCRYPTION_KEYS nor a base64 AES key")),
    ("{{ decrypt('AAAAAAAAAAAAAAAAAAAAAA==', 'bm90IGVuY3J5cHRlZCBhdCBhbGw=') }}", Err("was not encrypted with this key")),
]


@pytest.mark.parametrize(("template", "expected"), ROWS, ids=[f"{i:03d}" for i in range(len(ROWS))])
def test_construct(template, expected):
    if isinstance(expected, Err):
        with pytest.raises(ExpressionError) as info:
            render(template, CTX)
        assert expected.part in str(info.value), str(info.value)
        return
    result = render(template, CTX)
    assert result == expected, f"{template} gave {result!r}"
    if not isinstance(expected, float):
        assert type(result) is type(expected) or expected is None, f"{template} gave a {type(result).__name__}"


def test_every_row_also_passes_validation():
    for template, expected in ROWS:
        if not isinstance(expected, Err):
            check_syntax(template)


def test_current_each_output_walks_the_enclosing_loops_outermost_first():
    nested = {**CTX, "taskrun": {"value": "i"}, "parents": [{"taskrun": {"value": "o"}}]}
    assert render("{{ currentEachOutput(outputs.nested).value }}", nested) == "o/i"
    assert render("{{ outputs.nested[parent.taskrun.value ?? 'o'][taskrun.value].value }}", nested) == "o/i"


def test_generated_identifiers_have_their_shapes():
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", render("{{ uuid() }}", CTX))
    assert re.fullmatch(r"[0-9A-Za-z]{22}", render("{{ id() }}", CTX))
    first, second = render("{{ ksuid() }}", CTX), render("{{ ksuid() }}", CTX)
    assert re.fullmatch(r"[0-9A-Za-z]{27}", first) and first != second
    assert re.fullmatch(r"[A-Za-z0-9_-]{21}", render("{{ nanoId() }}", CTX))
    values = {render("{{ randomInt(1, 4) }}", CTX) for _ in range(200)}
    assert values == {1, 2, 3}
    port = render("{{ randomPort() }}", CTX)
    assert isinstance(port, int) and 1024 <= port <= 65535


def test_encrypted_values_are_kestras_layout_and_keys_come_from_configuration(monkeypatch):
    key = base64.b64encode(bytes(range(32))).decode()
    monkeypatch.setenv("LANNER_ENCRYPTION_KEYS", f"MY_KEY={key}, other=AAAAAAAAAAAAAAAAAAAAAA==")
    encrypted = render("{{ encrypt('MY_KEY', 'sensitive') }}", CTX)
    raw = base64.b64decode(encrypted)
    assert len(raw) == 12 + len("sensitive") + 16  # IV, ciphertext, GCM tag
    assert render(f"{{{{ decrypt('{key}', '{encrypted}') }}}}", CTX) == "sensitive"
    assert render(f"{{{{ decrypt('MY_KEY', '{encrypted}') }}}}", CTX) == "sensitive"
    with pytest.raises(ExpressionError, match="not encrypted with this key"):
        render(f"{{{{ decrypt('other', '{encrypted}') }}}}", CTX)


def test_now_and_dates_are_timezone_aware():
    now = dt.datetime.fromisoformat(render("{{ now() }}", CTX))
    assert now.utcoffset() == dt.timedelta(0)
    assert render("{{ now(timeZone='Asia/Kolkata') | date('XXX') }}", CTX) == "+05:30"
