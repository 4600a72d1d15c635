"""Forward references made while pydantic is imported keep their text, and still evaluate when read."""

from __future__ import annotations

import types
import typing

import pytest

from engine.model.start_imports import forward_refs_kept_as_text


def test_a_reference_made_inside_keeps_its_text_and_evaluates_when_read() -> None:
    with forward_refs_kept_as_text():
        inside = typing.ForwardRef("list[int]")
    outside = typing.ForwardRef("list[int]")
    assert inside.__forward_code__ == "list[int]"  # not compiled
    assert isinstance(outside.__forward_code__, types.CodeType)  # typing as usual again
    assert typing._eval_type(inside, {}, {}) == list[int]  # read: eval compiles the text then
    assert inside == outside


def test_typing_is_restored_when_the_import_inside_fails() -> None:
    with pytest.raises(ImportError), forward_refs_kept_as_text():
        import engine.model.no_such_module  # noqa: F401
    assert "compile" not in vars(typing)
    assert isinstance(typing.ForwardRef("int").__forward_code__, types.CodeType)


def test_typed_dicts_declared_inside_give_their_hints() -> None:
    source = "from __future__ import annotations\nfrom typing import TypedDict\nclass Point(TypedDict):\n    x: int\n    tags: list[str]\n"
    module = types.ModuleType("declared_inside")
    with forward_refs_kept_as_text():
        exec(compile(source, "declared_inside", "exec"), module.__dict__)
    assert typing.get_type_hints(module.Point) == {"x": int, "tags": list[str]}
