"""Records built on engine.model.plain keep what the dataclasses they replaced gave: equality by type and
fields, a hash when frozen (none when mutable), immutability, a repr, ``match`` patterns, pickle and copy."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from engine.model.plain import Frozen, Plain, set_field


class Point(Frozen):
    __slots__ = ("x", "y", "tags")
    x: int
    y: int
    tags: tuple[str, ...]

    def __init__(self, x: int, y: int = 0, tags: tuple[str, ...] = ()) -> None:
        set_field(self, "x", x)
        set_field(self, "y", y)
        set_field(self, "tags", tags)


class Twin(Frozen):  # the same fields as Point, another type
    __slots__ = ("x", "y", "tags")
    x: int
    y: int
    tags: tuple[str, ...]

    __init__ = Point.__init__


class Report(Plain):
    __slots__ = ("name", "errors")
    name: str
    errors: list[str]

    def __init__(self, name: str, errors: list[str] | None = None) -> None:
        self.name = name
        self.errors = [] if errors is None else errors


@dataclasses.dataclass(frozen=True)
class DataPoint:  # what Point replaces, to compare with
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


def test_a_frozen_record_cannot_be_changed_as_a_frozen_dataclass() -> None:
    point = Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'y'"):
        del point.y
    with pytest.raises(AttributeError):
        point.z = 1  # type: ignore[attr-defined]
    assert (point.x, point.y) == (1, 2)


def test_equality_and_hash_by_type_and_fields() -> None:
    assert Point(1, 2) == Point(1, y=2)
    assert Point(1, 2) != Point(1, 3)
    assert Point(1, 2) != Twin(1, 2)  # same fields, another type
    assert Point(1) != (1, 0, ())
    assert Point(1).__eq__(DataPoint(1)) is NotImplemented  # as a dataclass answers another type
    assert len({Point(1, 2), Point(1, 2), Twin(1, 2)}) == 2
    assert hash(Point(1, 2, ("a",))) == hash(DataPoint(1, 2, ("a",)))


def test_a_plain_record_is_mutable_compared_by_value_and_unhashable() -> None:
    report = Report("r")
    report.errors.append("e")
    report.name = "s"
    assert report == Report("s", ["e"])
    assert report != Report("s")
    assert Report("a").errors is not Report("a").errors  # a new list each, as a default_factory gives
    with pytest.raises(TypeError, match="unhashable"):
        hash(report)


def test_repr_is_the_dataclass_repr() -> None:
    assert repr(Point(1, 2, ("a",))) == repr(DataPoint(1, 2, ("a",))).replace("DataPoint", "Point")
    assert repr(Report("r", ["e"])) == "Report(name='r', errors=['e'])"


def test_positional_and_keyword_match_patterns() -> None:
    def where(value: object) -> str:
        match value:
            case Point(0, y):
                return f"on the y axis at {y}"
            case Report(name=name):
                return f"report {name}"
        return "elsewhere"

    assert Point.__match_args__ == DataPoint.__match_args__
    assert where(Point(0, 5)) == "on the y axis at 5"
    assert where(Point(1, 5)) == "elsewhere"
    assert where(Report("r")) == "report r"


def test_pickle_and_copy_round_trips() -> None:
    for record in (Point(1, 2, ("a",)), Report("r", ["e"])):
        assert pickle.loads(pickle.dumps(record)) == record
        assert copy.copy(record) == record
        assert copy.deepcopy(record) == record
    original = Report("r", ["e"])
    clone = copy.deepcopy(original)
    assert clone.errors == original.errors and clone.errors is not original.errors

