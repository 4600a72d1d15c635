"""Kestra's JDBC URLs as SQLAlchemy URLs.

Kestra flows name databases the Java way (``jdbc:postgresql://host:5432/db``,
``jdbc:mysql://host/db?useSSL=false``, ``jdbc:sqlite:file.db``, ``jdbc:duckdb:``);
SQLAlchemy wants ``postgresql+psycopg://...``. This module translates, keeps the
JDBC parameters that have a meaning for the Python driver (user, password,
SSL mode, connect timeout, schema, application name) and reports the others it
drops. A URL already written for SQLAlchemy is accepted as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

#: Seconds to wait for a server to answer a connection, unless the URL says otherwise.
CONNECT_TIMEOUT = 10

_DRIVERS = {"postgres": "postgresql+psycopg", "mysql": "mysql+pymysql", "sqlite": "sqlite", "duckdb": "duckdb"}
_SCHEMES = {
    "postgres": ("jdbc:postgresql:", "postgresql:", "postgresql+psycopg:", "postgresql+psycopg2:", "postgres:"),
    "mysql": ("jdbc:mysql:", "jdbc:mariadb:", "mysql:", "mysql+pymysql:", "mariadb:", "mariadb+pymysql:"),
    "sqlite": ("jdbc:sqlite:", "sqlite:"),
    "duckdb": ("jdbc:duckdb:", "duckdb:"),
}
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


class UrlError(ValueError):
    """A URL that does not name a database of the task's kind; the message says what is expected."""


@dataclass
class Target:
    """Where to connect: the SQLAlchemy URL, and what to show in messages (never the password)."""

    url: Any  # sqlalchemy.engine.URL
    where: str
    dropped: list[str] = field(default_factory=list)
    file: Path | None = None  # sqlite / duckdb database file (None: in memory)


def translate(db: str, raw: str, username: str | None, password: str | None, base_dir: Path | None = None) -> Target:
    """The SQLAlchemy URL for a task of kind ``db`` (postgres, mysql, sqlite, duckdb)."""
    url = (raw or "").strip()
    if not url.startswith(_SCHEMES[db]):
        raise UrlError(f"url {_shown(url)!r} is not a {db} URL: it must start with {_SCHEMES[db][0]}")
    if db in ("sqlite", "duckdb"):
        return _file_database(db, url, base_dir)
    return _server_database(db, url, username, password)


def _shown(url: str) -> str:
    """A URL without its password, for messages."""
    parts = urlsplit(url.removeprefix("jdbc:"))
    if parts.password:
        url = url.replace(f":{parts.password}@", ":******@")
    return url


def _server_database(db: str, url: str, username: str | None, password: str | None) -> Target:
    from sqlalchemy.engine import URL

    body = url.removeprefix("jdbc:")
    parts = urlsplit(body)
    if not parts.hostname:
        raise UrlError(f"url {_shown(url)!r} names no host: write it like {_SCHEMES[db][0]}//host:port/database")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    user = username if username is not None else params.pop("user", None) or (unquote(parts.username) if parts.username else None)
    secret = password if password is not None else params.pop("password", None) or (unquote(parts.password) if parts.password else None)
    params.pop("user", None)
    params.pop("password", None)
    query, dropped = (_postgres_params if db == "postgres" else _mysql_params)(params)
    try:
        port = parts.port
    except ValueError:
        raise UrlError(f"url {_shown(url)!r} has an invalid port") from None
    database = unquote(parts.path.lstrip("/")) or None
    target = URL.create(_DRIVERS[db], username=user, password=secret, host=parts.hostname, port=port, database=database, query=query)
    where = f"{parts.hostname}:{port or (5432 if db == 'postgres' else 3306)}" + (f"/{database}" if database else "")
    return Target(target, where + (f" as {user}" if user else ""), dropped)


def _postgres_params(params: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    query: dict[str, str] = {"connect_timeout": str(CONNECT_TIMEOUT)}
    dropped = []
    for key, value in params.items():
        lower = key.lower()
        if lower == "sslmode" and value in _SSL_MODES:
            query["sslmode"] = value
        elif lower == "ssl" and value.lower() == "true":
            query.setdefault("sslmode", "require")
        elif lower in ("connecttimeout", "connect_timeout", "logintimeout"):
            query["connect_timeout"] = value
        elif lower in ("applicationname", "application_name"):
            query["application_name"] = value
        elif lower == "currentschema":
            query["options"] = f"-csearch_path={value}"
        elif lower in ("sslrootcert", "sslcert", "sslkey"):
            query[lower] = value
        else:
            dropped.append(key)
    return query, dropped


def _mysql_params(params: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    query: dict[str, str] = {"charset": "utf8mb4", "connect_timeout": str(CONNECT_TIMEOUT)}
    dropped = []
    for key, value in params.items():
        lower = key.lower()
        if lower in ("connecttimeout", "connect_timeout"):
            seconds = int(value) / 1000 if lower == "connecttimeout" else int(value)  # JDBC's is in milliseconds
            query["connect_timeout"] = str(max(1, round(seconds)))
        elif lower in ("characterencoding", "charset") and value.lower().replace("-", "") in ("utf8", "utf8mb4"):
            query["charset"] = "utf8mb4"
        else:
            dropped.append(key)  # useSSL, serverTimezone, allowMultiQueries...: no pymysql equivalent
    return query, dropped


def _file_database(db: str, url: str, base_dir: Path | None) -> Target:
    from sqlalchemy.engine import URL

    rest = url.split(":", 2)[2] if url.startswith("jdbc:") else url.split(":", 1)[1]
    if not url.startswith("jdbc:"):
        rest = rest.removeprefix("///") if rest.startswith("///") else rest.removeprefix("//")
    path_text, _, _query = rest.partition("?")
    if path_text.startswith("md:") or path_text.startswith("motherduck:"):
        raise UrlError("MotherDuck (jdbc:duckdb:md:...) needs a network service Lanner does not reach; use a local DuckDB file")
    if path_text in ("", ":memory:", "memory") or "mode=memory" in url:
        return Target(URL.create(_DRIVERS[db], database=":memory:"), f"{db} in memory")
    path = Path(path_text)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    path = path.resolve()
    return Target(URL.create(_DRIVERS[db], database=str(path)), f"{db} file {path.name}", file=path)
