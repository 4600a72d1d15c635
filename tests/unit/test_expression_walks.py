"""Large values compared, searched, sorted and written in pieces give Python's own answers.

A tiny ``max_walk`` makes small values "large", so every piecewise path runs
here on data small enough to check against Python's ``==``, ``<``, ``in``,
``sorted``, ``max`` and ``json.dumps``.
"""

from __future__ import annotations

import json
import random

import pytest

from engine.expressions import ExpressionError, Limits, render, walks
from engine.expressions.json_text import parse_json, to_json
from engine.expressions.ledger import ledger

TINY = Limits(max_walk=10)
RNG = random.Random(19)


def _value(depth: int = 0) -> object:
    kind = RNG.randrange(6 if depth < 3 else 3)
    if kind == 0:
        return RNG.randrange(5)
    if kind == 1:
        return RNG.choice(["a", "b", "é", 'q"uote', "x" * 30])
    if kind == 2:
        return RNG.choice([None, True, 1.5])
    if kind == 3:
        return [_value(depth + 1) for _ in range(RNG.randrange(12))]
    if kind == 4:
        return {RNG.choice("abcde") + str(i): _value(depth + 1) for i in range(RNG.randrange(8))}
    return [[RNG.randrange(3) for _ in range(RNG.randrange(15))] for _ in range(RNG.randrange(6))]


PAIRS = [(_value(), _value()) for _ in range(120)]
LISTS = [[RNG.randrange(4) for _ in range(n)] for n in (0, 1, 5, 30, 31, 200)]
NESTED = [[[RNG.randrange(3) for _ in range(RNG.randrange(20))] for _ in range(RNG.randrange(30))] for _ in range(40)]


@pytest.mark.parametrize("index", range(len(PAIRS)))
def test_equal_and_ordering_in_pieces_answer_as_python(index):
    left, right = PAIRS[index]
    for a, b in ((left, right), (left, left), (left, json.loads(json.dumps(left)))):
        assert walks.equal(a, b, TINY) == (a == b)
        for op, python in (("lt", a.__lt__), ("gt", a.__gt__), ("lteq", a.__le__), ("gteq", a.__ge__)):
            try:
                expected = python(b)
            except TypeError:
                expected = TypeError
            if expected is NotImplemented:
                expected = TypeError
            try:
                got = walks.ordered(op, a, b, TINY)
            except TypeError:
                got = TypeError
            assert got == expected, (op, a, b)


@pytest.mark.parametrize("lists", [NESTED[i: i + 2] for i in range(0, 40, 2)])
def test_nested_lists_compare_in_pieces_like_python(lists):
    a, b = lists
    copy = json.loads(json.dumps(a))
    assert walks.equal(a, copy, TINY)
    assert walks.equal(a, b, TINY) == (a == b)
    assert walks.ordered("lt", a, b, TINY) == (a < b)
    assert walks.ordered("gteq", b, a, TINY) == (b >= a)


@pytest.mark.parametrize("items", NESTED)
def test_membership_in_pieces_answers_as_python(items):
    for probe in (*items[:3], [], [0], [9, 9], json.loads(json.dumps(items[-1])) if items else 1):
        assert walks.member(probe, items, TINY) == (probe in items)


@pytest.mark.parametrize("items", [*LISTS, *NESTED[:10], [str(RNG.random()) for _ in range(300)]])
@pytest.mark.parametrize("reverse", [False, True])
def test_sorting_in_runs_is_sorted_and_stable(items, reverse):
    assert walks.sort(list(items), None, reverse, Limits(max_walk=400)) == sorted(items, reverse=reverse)
    tagged = [{"k": RNG.randrange(3), "n": i} for i in range(len(items))]  # equal keys keep their order
    key = lambda item: item["k"]  # noqa: E731
    assert walks.sort(tagged, key, reverse, Limits(max_walk=40)) == sorted(tagged, key=key, reverse=reverse)


def test_sort_refuses_keys_too_large_to_compare_often():
    with pytest.raises(Exception, match="sort key of 9 items"):
        walks.sort([[1] * 8, [2] * 8], None, False, Limits(max_walk=128))


@pytest.mark.parametrize("index", range(0, len(PAIRS), 3))
def test_json_written_in_pieces_is_json_dumps(index):
    value = {"a": PAIRS[index][0], "b": [PAIRS[index][1]] * 7, "c": NESTED[index % 40], 1: "x" * 50}
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert to_json(value, Limits(max_walk=10)) == expected
    assert json.loads(parse_json(json.dumps(expected), Limits(max_walk=10))) == json.loads(expected)


def test_long_texts_are_escaped_in_pieces_like_json_dumps(monkeypatch):
    from engine.expressions import json_text

    monkeypatch.setattr(json_text, "TEXT_STEP", 7)
    text = 'a"b\\c\nd\u00e9\u2028\x00' * 11
    for value in (text, [text, 1, {"k": text}], {text: [text]}):
        assert to_json(value, Limits(max_walk=10)) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_texts_of_many_items_are_parsed_by_the_python_scanner_with_the_same_result():
    text = json.dumps([{"a": i, "b": [1.5, None, True, "é"]} for i in range(40)])
    assert parse_json(text, Limits(max_walk=10)) == json.loads(text)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ big == copy }}", True),
        ("{{ big != other }}", True),
        ("{{ big < other }}", [list(range(30))] * 20 < [list(range(30))] * 19 + [[0]]),
        ("{{ [0, 1, 2] in big }}", False),
        ("{{ copy[3] in big }}", True),
        ("{{ big contains [copy[0]] }}", True),
        ("{{ (big - [copy[0]]) | length }}", 0),
        ("{{ nums | sort | first }}", 0),
        ("{{ nums | sort(reverse=true) | first }}", 299),
        ("{{ nums | max }}", 299),
        ("{{ nums | min }}", 0),
        ("{{ big is eq(copy) }}", True),
        ("{{ big | tojson | length }}", len(json.dumps([list(range(30))] * 20, separators=(",", ":")))),
    ],
)
def test_templates_over_large_values_keep_their_meaning(template, expected):
    context = {
        "big": [list(range(30))] * 20,
        "copy": [list(range(30)) for _ in range(20)],
        "other": [list(range(30))] * 19 + [[0]],
        "nums": RNG.sample(range(300), 300),
    }
    assert render(template, context, limits=Limits(max_walk=50)) == expected


def test_a_step_that_cannot_be_split_is_refused_past_max_walk():
    context = {"t": tuple(range(40))}
    with pytest.raises(ExpressionError, match="over the limit of 30 items that one step may compare, hash or print"):
        render("{{ t in {} }}", context, limits=Limits(max_walk=30))
    with pytest.raises(ExpressionError, match="print 40 items in one piece, over the limit of 6 items"):
        render("{{ '{}'.format(t) }}", context, limits=Limits(max_walk=30))


def test_sizes_count_nested_items_and_every_repeated_reference():
    inner = [0] * 10
    book = ledger(Limits())
    assert book.size([inner] * 3)[0] == 33
    assert book.size({"a": inner, "b": [inner, inner]})[0] == 2 + 10 + 2 + 1 + 20 + 1
    assert book.size(range(5))[0] == 0  # a range is three numbers, not a list


def test_a_render_inside_a_render_with_other_limits_counts_against_its_own():
    """What the inner render builds is counted against its limits, even while an outer render is open (or a
    timeout left the thread's ledger open): before, the inner render's values went to throwaway ledgers."""
    from engine.expressions import ledger as ledgers

    outer = ledgers.enter(Limits())
    try:
        with pytest.raises(ExpressionError, match="over the limit of 1 MiB"):
            render("".join(f"{{% set t{i} = ('x' * 300000) ~ {i} %}}" for i in range(8)) + "{{ t0 | length }}", {},
                   limits=Limits(max_memory=1_000_000))
        assert ledgers._local.ledger is outer, "the outer render's ledger is current again"
    finally:
        ledgers.leave(outer)
