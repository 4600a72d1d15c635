"""Internal storage URIs and path rules: parsing, validation, globs (no I/O)."""

from __future__ import annotations

import pytest

from engine.storage import (
    StorageError,
    StorageUri,
    check_namespace,
    matches,
    parse_uri,
    resolve_nsfile,
    safe_relative_path,
)

URI = "lanner:///company.team/my-flow/executions/ex1/tasks/t1/tr1/out.csv"


def test_parse_uri_splits_namespace_flow_execution_and_rest() -> None:
    parsed = parse_uri(URI)
    assert parsed == StorageUri("company.team", "my-flow", "ex1", ("tasks", "t1", "tr1", "out.csv"))
    assert parsed.key == "company.team/my-flow/executions/ex1/tasks/t1/tr1/out.csv"
    assert parsed.name == "out.csv"
    assert str(parsed) == URI


def test_uri_round_trip_percent_encodes_unusual_names() -> None:
    uri = str(StorageUri("a", "f", "e", ("tasks", "t", "r", "my report (1).html")))
    assert " " not in uri
    assert parse_uri(uri).name == "my report (1).html"


def test_kestra_uris_are_another_spelling_of_lanner_uris() -> None:
    from engine.storage import is_storage_uri, normalize_uri

    same = parse_uri("kestra:///company.team/f/executions/ex1/tasks/t/r/out.csv")
    assert same == parse_uri("lanner:///company.team/f/executions/ex1/tasks/t/r/out.csv")
    # Kestra lays a namespace out as folders: company/team is company.team.
    slashed = parse_uri("kestra:///company/team/f/executions/ex1/tasks/t/r/out.csv")
    assert (slashed.namespace, slashed.flow_id, slashed.execution_id, slashed.rest) == (
        "company.team", "f", "ex1", ("tasks", "t", "r", "out.csv"))
    assert normalize_uri("kestra:///company/team/f/executions/ex1/x.txt") == "lanner:///company.team/f/executions/ex1/x.txt"
    assert is_storage_uri("kestra:///a/b") and is_storage_uri("lanner:///a/b") and not is_storage_uri("s3://b/k")


@pytest.mark.parametrize(
    "uri",
    [
        "lanner:///company.team/f/executions/ex1/../../other/x",
        "lanner:///company.team/f/executions/ex1/tasks/%2e%2e/%2E%2E/x",
        "lanner:///company.team/f/executions/ex1/tasks/./x",
        "lanner:///company.team/f/executions/ex1/tasks//x",
        "lanner:///company.team/f/executions/ex1/tasks/a%5cb",
        "lanner:///company.team/f/executions/ex1/tasks/a\\..\\b",
        "lanner:///company.team/f/executions/ex1/tasks/a%00b",
        "lanner:///company.team/f/executions/ex1",
        "lanner:///company.team/f/other/ex1/x",
        "lanner:////etc/passwd",
        "lanner://company.team/f/executions/ex1/x",
        "kestra:///company.team/f/executions/ex1/../../x",
        "kestra:///company/team/f/executions",
        "/etc/passwd",
        "lanner:///../f/executions/ex1/x",
        "lanner:///company.team/f/executions/ex1/x?y=1",
    ],
)
def test_bad_uris_are_refused_with_a_message(uri: str) -> None:
    with pytest.raises(StorageError) as err:
        parse_uri(uri)
    assert str(err.value)
    assert "Traceback" not in str(err.value)


def test_double_encoding_is_decoded_once_and_stays_literal() -> None:
    parsed = parse_uri("lanner:///a/f/executions/e/tasks/%252e%252e")
    assert parsed.rest == ("tasks", "%2e%2e")


@pytest.mark.parametrize("ns", ["company", "company.team", "a-b.c_d.e1"])
def test_valid_namespaces(ns: str) -> None:
    assert check_namespace(ns) == ns


@pytest.mark.parametrize("ns", ["", ".a", "a..b", "a.", "_namespace_files", "a/b", "../a", "a b"])
def test_invalid_namespaces(ns: str) -> None:
    with pytest.raises(StorageError, match="namespace"):
        check_namespace(ns)


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a//b", "a\\b", "a\x00b", "C:/x", "", "a/./b"])
def test_safe_relative_path_refuses_escapes(path: str) -> None:
    with pytest.raises(StorageError):
        safe_relative_path(path)


def test_safe_relative_path_normalises_leading_dot() -> None:
    assert safe_relative_path("./data/x.csv") == "data/x.csv"
    assert safe_relative_path("data/sub/x.csv") == "data/sub/x.csv"


def test_globs_include_and_exclude() -> None:
    assert matches("scripts/a.py", ["*.py"], None)
    assert matches("a.py", ["*.py"], None)
    assert not matches("data/a.csv", ["*.py"], None)
    assert matches("data/a.csv", ["data/**"], None)
    assert not matches("data/a.csv", None, ["data/*"])
    assert matches("anything", None, None)
    assert not matches("scripts/test_a.py", ["scripts/*"], ["*test_*"])


def test_nsfile_references() -> None:
    assert resolve_nsfile("nsfile:///scripts/x.py", "a.b") == "scripts/x.py"
    assert resolve_nsfile("nsfile://a.b/scripts/x.py", "a.b") == "scripts/x.py"
    with pytest.raises(StorageError, match="namespace 'other'"):
        resolve_nsfile("nsfile://other/x.py", "a.b")
    with pytest.raises(StorageError):
        resolve_nsfile("nsfile:///../x.py", "a.b")
