"""Kestra's JDBC URLs translated for SQLAlchemy, and SQL split into statements (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lanner_jdbc.sqlrun import reason, split_statements
from lanner_jdbc.urls import UrlError, translate


def test_postgres_jdbc_url_keeps_driver_options_and_reports_the_others():
    t = translate("postgres", "jdbc:postgresql://db.example:6543/sales?sslmode=require&currentSchema=mart&prepareThreshold=0", "ann", "s3cret")
    url = t.url
    assert (url.drivername, url.host, url.port, url.database, url.username, url.password) == (
        "postgresql+psycopg", "db.example", 6543, "sales", "ann", "s3cret")
    assert url.query["sslmode"] == "require" and url.query["options"] == "-csearch_path=mart"
    assert url.query["connect_timeout"] == "10"
    assert t.dropped == ["prepareThreshold"]
    assert t.where == "db.example:6543/sales as ann" and "s3cret" not in t.where


def test_credentials_in_the_url_are_used_unless_properties_override_them():
    t = translate("postgres", "jdbc:postgresql://h/db?user=u1&password=p1", None, None)
    assert (t.url.username, t.url.password) == ("u1", "p1")
    t = translate("mysql", "jdbc:mysql://u2:p2@h:3307/shop?useSSL=false&connectTimeout=3000", None, None)
    assert (t.url.drivername, t.url.username, t.url.password, t.url.port) == ("mysql+pymysql", "u2", "p2", 3307)
    assert t.url.query["connect_timeout"] == "3" and t.dropped == ["useSSL"]
    assert translate("mysql", "jdbc:mariadb://h/shop", "x", "y").url.username == "x"


def test_file_databases_resolve_relative_paths_and_memory(tmp_path: Path):
    t = translate("sqlite", "jdbc:sqlite:data/app.db", None, None, tmp_path)
    assert t.file == (tmp_path / "data" / "app.db").resolve() and t.url.database == str(t.file)
    assert translate("sqlite", "jdbc:sqlite:", None, None, tmp_path).file is None
    assert translate("duckdb", "jdbc:duckdb:", None, None, tmp_path).url.database == ":memory:"
    assert translate("duckdb", f"jdbc:duckdb:{tmp_path}/w.duckdb", None, None).file == tmp_path / "w.duckdb"
    assert translate("sqlite", "sqlite:///x.db", None, None, tmp_path).file == (tmp_path / "x.db").resolve()


@pytest.mark.parametrize(("db", "url", "words"), [
    ("postgres", "jdbc:mysql://h/db", "must start with jdbc:postgresql:"),
    ("postgres", "jdbc:postgresql:///db", "names no host"),
    ("duckdb", "jdbc:duckdb:md:my_db", "MotherDuck"),
])
def test_wrong_urls_say_what_is_expected(db, url, words):
    with pytest.raises(UrlError, match=words):
        translate(db, url, None, None)


def test_statements_split_outside_quotes_comments_and_dollar_bodies():
    sql = """
        -- a comment; with a semicolon
        CREATE TABLE t (a text); INSERT INTO t VALUES ('x;y'), ("z;");
        CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
        /* ; */ SELECT 1 ;  ;
    """
    parts = split_statements(sql)
    assert len(parts) == 4
    assert parts[1] == """INSERT INTO t VALUES ('x;y'), ("z;")"""
    assert parts[2].endswith("$$ SELECT 1; $$ LANGUAGE sql")
    assert split_statements("-- only a comment") == []


def test_driver_errors_become_one_line():
    class Fake(Exception):
        pass

    assert reason(Fake(1045, "Access denied for user 'u'@'localhost' (using password: YES)")) == (
        "Access denied for user 'u'@'localhost' (using password: YES)")
    assert reason(Fake('connection failed: FATAL:  password authentication failed\nHINT: check it')) == (
        "connection failed: FATAL: password authentication failed")
