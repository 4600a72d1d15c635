"""Patterns compiled when first used stand for the pattern in every use a library makes of it."""

from __future__ import annotations

import copy
import re
import types

import pytest

from engine.model.lazy_patterns import LazyPattern, patterns_compiled_when_used

SOURCE = "import re\nNUMBER = re.compile(r'^[0-9]+$')\nWORDS = re.compile('[a-z]+', re.I)\n"


def _import_inside() -> types.ModuleType:
    module = types.ModuleType("lib_with_patterns")
    with patterns_compiled_when_used():
        exec(compile(SOURCE, "lib_with_patterns", "exec"), module.__dict__)
    return module


def test_patterns_compiled_by_a_module_imported_inside_are_lazy_and_behave_as_compiled_ones() -> None:
    lib = _import_inside()
    assert isinstance(lib.NUMBER, LazyPattern)
    assert "match" not in vars(lib.NUMBER)  # not compiled yet
    assert lib.NUMBER.match("123") is not None
    assert lib.NUMBER.match("12a") is None
    assert lib.WORDS.findall("Ab c1D") == ["Ab", "c", "D"]  # flags kept
    assert (lib.WORDS.pattern, lib.WORDS.flags & re.I) == ("[a-z]+", re.I)
    assert vars(lib.NUMBER)["match"] == re.compile(r"^[0-9]+$").match  # later reads: the compiled pattern's method


def test_re_compile_is_itself_again_outside_and_after_an_error() -> None:
    compile_before = re.compile
    with pytest.raises(ValueError, match="import failed"), patterns_compiled_when_used():
        raise ValueError("import failed")
    assert re.compile is compile_before
    assert isinstance(re.compile("x"), re.Pattern)


def test_a_bad_pattern_fails_where_it_is_used() -> None:
    with patterns_compiled_when_used():
        bad = re.compile("(")
    with pytest.raises(re.error, match=r"missing \)"):
        bad.match("x")


def test_copy_and_repr_do_not_compile() -> None:
    lazy = LazyPattern("a+", 0)
    assert repr(lazy) == "LazyPattern('a+', 0)"
    twin = copy.copy(lazy)
    assert "search" not in vars(twin)
    assert twin.search("baa").group() == "aa"


def test_a_compiled_pattern_given_inside_is_returned_as_re_does() -> None:
    compiled = re.compile("b")
    with patterns_compiled_when_used():
        again = re.compile(compiled)
    assert again is compiled
