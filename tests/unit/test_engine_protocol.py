"""Both Engines have every method of the Engine protocol, with its parameters (names, kinds, defaults).

mypy proves the same when it runs; this keeps the two implementations from drifting
apart meanwhile. An implementation may add optional keyword parameters of its own
(LocalEngine's ``follow(interval=...)``), nothing else.
"""

from __future__ import annotations

import inspect

import pytest

from engine.client import HttpEngine
from engine.local_engine import LocalEngine
from engine.service import Engine

METHODS = sorted(name for name, value in vars(Engine).items() if callable(value) and not name.startswith("_"))


def test_the_protocol_covers_what_the_front_ends_need():
    assert {"deploy", "validate", "start", "wait", "summary", "logs", "follow", "kill", "resume", "restart", "replay",
            "set_labels", "delete_execution", "search_flows", "search_executions", "download", "write_namespace_file",
            "kv_put", "triggers", "backfill", "namespaces"} <= set(METHODS)


@pytest.mark.parametrize("implementation", [LocalEngine, HttpEngine])
@pytest.mark.parametrize("name", METHODS)
def test_an_engine_has_the_protocol_method(implementation: type, name: str):
    wanted = inspect.signature(getattr(Engine, name))
    method = getattr(implementation, name, None)
    assert callable(method), f"{implementation.__name__} has no {name}()"
    found = inspect.signature(method)
    extra = [p for p in found.parameters.values() if p.name not in wanted.parameters]
    assert all(p.kind == p.KEYWORD_ONLY and p.default is not p.empty for p in extra), (name, extra)
    for param in wanted.parameters.values():
        mine = found.parameters.get(param.name)
        assert mine is not None, f"{implementation.__name__}.{name}() lacks {param.name}"
        assert (mine.kind, mine.default) == (param.kind, param.default), (implementation.__name__, name, param.name)
    assert list(found.parameters)[: len(wanted.parameters)] == list(wanted.parameters), (implementation.__name__, name)
