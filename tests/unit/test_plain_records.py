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


# --- the records of the cold path that were dataclasses ---------------------------------------------------------

def _cold_records() -> list[object]:
    import logging
    from datetime import UTC, datetime

    from engine.expressions.limits import Limits
    from engine.local_engine import EngineStats
    from engine.model.condition import ConditionContext
    from engine.model.flowable import ChildExecution, ChildList
    from engine.model.plugin_index import Declaration, Scan
    from engine.model.registry import PluginInfo
    from engine.model.trigger import TriggerContext, TriggerEvent
    from engine.model.type_catalog import PluginError, Source
    from engine.model.validation import FlowError, ValidationReport
    from engine.storage import StorageUri
    from engine.store.records import FlowRecord, LogRecord

    decl = Declaration("task", "log", "engine.tasks.core:Log", "lanner", "1.0")
    now = datetime(2024, 1, 2, tzinfo=UTC)
    return [
        FlowRecord("a.b", "f", 2, "id: f", False, "2024-01-02T00:00:00Z"),
        LogRecord("ex1", None, None, None, "INFO", "2024-01-02T00:00:00Z", "hi"),
        ChildList("cases", shape="map", label="case"),
        ChildExecution("tr1", "a.b", "child", {"x": 1}, {"l": "v"}, wait=False, iteration=3),
        Source("lanner", "1.0"),
        PluginError("acme", None, "thing", "lanner.tasks", "acme:Thing", "no module named acme"),
        decl,
        Scan([decl], [(decl, decl)], builtin_missing=True),
        TriggerEvent("k1", {"n": 1}),
        TriggerContext("a.b", "f", "t", now, logging.getLogger("lanner.test"), state={"cursor": 1}),
        FlowError("tasks[0].id", "is required", 3, 5),
        ValidationReport(None, [FlowError("", "bad")], data={"id": "f"}),
        Limits(timeout=0.5, max_walk=10),
        ConditionContext("schedule", date=now, flow={"namespace": "a.b", "id": "f"}),
        StorageUri("a.b", "f", "ex1", ("tasks", "t1", "tr1", "out.csv")),
        EngineStats({"SUCCESS": 2}, 0, 4, None),
        PluginInfo("acme", "0.1", False),
    ]


@pytest.mark.parametrize("record", _cold_records(), ids=lambda r: type(r).__name__)
def test_each_cold_record_keeps_its_dataclass_behaviour(record: object) -> None:
    cls = type(record)
    names = cls.__match_args__
    values = [getattr(record, name) for name in names]
    assert names and names == cls.__slots__
    assert cls(*values) == record and cls(**dict(zip(names, values, strict=True))) == record  # positional and keywords
    assert repr(record) == f"{cls.__name__}(" + ", ".join(f"{n}={v!r}" for n, v in zip(names, values, strict=True)) + ")"
    assert pickle.loads(pickle.dumps(record)) == record
    if isinstance(record, Frozen):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, names[0], values[0])
    else:
        setattr(record, names[0], values[0])  # mutable, as the plain @dataclass was
        assert cls.__hash__ is None


def test_defaults_are_new_containers_and_limits_stay_positive() -> None:
    from engine.expressions.limits import Limits
    from engine.model.condition import ConditionContext
    from engine.model.registry import PluginInfo
    from engine.model.trigger import TriggerEvent

    assert TriggerEvent("k").variables == {} and TriggerEvent("k").variables is not TriggerEvent("k").variables
    assert ConditionContext("schedule").trigger == {} and ConditionContext("schedule").flow == {}
    assert PluginInfo("a", None, False).types == {"task": [], "trigger": [], "condition": []}
    assert PluginInfo("a", None, False).errors is not PluginInfo("a", None, False).errors
    assert Limits() == Limits(2.0) and hash(Limits()) == hash(Limits())
    with pytest.raises(ValueError, match="expression limit max_walk must be positive, not 0"):
        Limits(max_walk=0)


def test_flow_errors_read_and_write_through_the_views_as_the_dataclass_did() -> None:
    from pydantic import ValidationError

    from engine.model.validation import FlowError
    from engine.model.views import Validation

    view = Validation.model_validate({"valid": False, "errors": [{"path": "a", "message": "m", "line": "3", "x": 1},
                                                                 FlowError("b", "n")]})
    assert view.errors == [FlowError("a", "m", 3), FlowError("b", "n")]
    assert view.to_dict()["errors"] == [{"path": "a", "message": "m", "line": 3, "column": None},
                                        {"path": "b", "message": "n", "line": None, "column": None}]
    assert Validation.model_validate_json(view.model_dump_json(by_alias=True)) == view
    with pytest.raises(ValidationError, match="errors.0.message"):
        Validation.model_validate({"valid": False, "errors": [{"path": "a"}]})
    with pytest.raises(ValidationError, match="Input should be a dictionary or an instance of FlowError"):
        Validation.model_validate({"valid": False, "errors": ["a"]})
    schema = Validation.model_json_schema()["$defs"]["FlowError"]
    assert schema["title"] == "FlowError" and schema["required"] == ["path", "message"]
    assert set(schema["properties"]) == {"path", "message", "line", "column"}
