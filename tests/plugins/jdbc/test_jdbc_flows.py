"""The SQL tasks against real databases: SQLite and DuckDB files, the suite's PostgreSQL, a local MariaDB."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from engine.iontext import loads
from tests.postgres_fixture import PgCluster


def test_sqlite_queries_fetch_store_parameters_and_after_sql(flow, tmp_path: Path):
    db = tmp_path / "shop.db"
    s = flow(f"""
        id: sqlite-shop
        namespace: tests.sql
        tasks:
          - id: setup
            type: io.kestra.plugin.jdbc.sqlite.Queries
            url: jdbc:sqlite:{db}
            sql: |
              CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount NUMERIC, done INTEGER DEFAULT 0);
              INSERT INTO orders (region, amount) VALUES ('north', 10.5), ('south', 20), ('north', 3.25);
              SELECT count(*) AS n FROM orders;
            fetchType: FETCH_ONE
          - id: north
            type: io.kestra.plugin.jdbc.sqlite.Query
            url: jdbc:sqlite:{db}
            sql: SELECT id, region, amount FROM orders WHERE region = :region ORDER BY id
            parameters:
              region: north
            fetchType: FETCH
            afterSQL: UPDATE orders SET done = 1 WHERE region = :region
          - id: stored
            type: io.kestra.plugin.jdbc.sqlite.Query
            url: jdbc:sqlite:{db}
            sql: SELECT region, sum(amount) AS total, max(done) AS done FROM orders GROUP BY region ORDER BY region
            store: true
    """)
    assert s["state"] == "SUCCESS", s
    assert flow.task(s, "setup")["outputs"] == {"outputs": [{"row": {"n": 3}, "size": 1}]}
    north = flow.task(s, "north")["outputs"]
    assert north == {"rows": [{"id": 1, "region": "north", "amount": 10.5}, {"id": 3, "region": "north", "amount": 3.25}], "size": 2}
    stored = flow.task(s, "stored")["outputs"]
    assert stored["size"] == 2
    assert loads(flow.file(stored["uri"]).read_text()) == [
        {"region": "north", "total": 13.75, "done": 1}, {"region": "south", "total": 20, "done": 0}]
    assert sqlite3.connect(db).execute("SELECT sum(done) FROM orders").fetchone() == (2,)


def test_a_failing_statement_rolls_the_transaction_back_and_says_why(flow, tmp_path: Path):
    db = tmp_path / "t.db"
    sqlite3.connect(db).executescript("CREATE TABLE t (a INTEGER NOT NULL)")
    s = flow(f"""
        id: sqlite-rollback
        namespace: tests.sql
        tasks:
          - id: both
            type: io.kestra.plugin.jdbc.sqlite.Queries
            url: jdbc:sqlite:{db}
            sql: INSERT INTO t VALUES (1); INSERT INTO t VALUES (NULL);
          - id: two_in_query
            type: io.kestra.plugin.jdbc.sqlite.Query
            url: jdbc:sqlite:{db}
            sql: SELECT 1; SELECT 2
            allowFailure: true
    """)
    tr = flow.task(s, "both")
    assert tr["state"] == "FAILED"
    assert sqlite3.connect(db).execute("SELECT count(*) FROM t").fetchone() == (0,)
    errors = [log["message"] for log in flow.logs(s) if log["level"] == "ERROR"]
    assert any("the SQL failed on sqlite file t.db: NOT NULL constraint failed: t.a" in m for m in errors), errors


def test_duckdb_reads_input_files_writes_output_files_and_keeps_its_database(flow):
    s = flow("""
        id: duck
        namespace: tests.sql
        tasks:
          - id: load
            type: io.kestra.plugin.jdbc.duckdb.Queries
            inputFiles:
              sales.csv: |
                day,amount
                2024-05-01,10.50
                2024-05-02,4.25
            outputFiles: [summary]
            outputDbFile: true
            sql: |
              CREATE TABLE sales AS SELECT * FROM read_csv_auto('sales.csv');
              COPY (SELECT sum(amount) AS total FROM sales) TO '{{ outputFiles.summary }}' (HEADER);
              SELECT day, amount, amount * 2 AS double FROM sales ORDER BY day;
            fetchType: STORE
          - id: reuse
            type: io.kestra.plugin.jdbc.duckdb.Query
            databaseUri: "{{ outputs.load.databaseUri }}"
            sql: SELECT count(*) AS n, min(day) AS first FROM sales
            fetchType: FETCH_ONE
    """)
    assert s["state"] == "SUCCESS", s
    out = flow.task(s, "load")["outputs"]
    rows = loads(flow.file(out["outputs"][0]["uri"]).read_text())
    assert rows[0] == {"day": dt.date(2024, 5, 1), "amount": 10.5, "double": 21.0}
    assert flow.file(out["outputFiles"]["summary"]).read_text().splitlines() == ["total", "14.75"]
    assert flow.task(s, "reuse")["outputs"] == {"row": {"n": 2, "first": "2024-05-01"}, "size": 1}


def _pg_parts(pg_url: str) -> tuple[str, str]:
    """(host:port, database) of a SQLAlchemy URL of the test cluster."""
    rest = pg_url.split("@", 1)[1]
    return rest.split("/")[0], rest.split("/")[1]


def test_postgres_store_streams_rows_with_a_server_side_cursor(flow, pg_url):
    hostport, database = _pg_parts(pg_url)
    s = flow(f"""
        id: pg-store
        namespace: tests.sql
        tasks:
          - id: big
            type: io.kestra.plugin.jdbc.postgresql.Query
            url: jdbc:postgresql://{hostport}/{database}
            username: postgres
            timeZoneId: Europe/Paris
            sql: |
              SELECT g AS id, g::numeric / 4 AS quarter, timestamptz '2024-01-01 00:00+00' + g * interval '1 hour' AS at,
                     date '2024-01-01' + g AS day, jsonb_build_object('g', g) AS doc
              FROM generate_series(1, 25000) AS g
            fetchType: STORE
            fetchSize: 1000
          - id: one
            type: io.kestra.plugin.jdbc.postgresql.Query
            url: jdbc:postgresql://{hostport}/{database}
            username: postgres
            sql: SELECT current_setting('application_name') AS app, 2::numeric(10,2) AS price, time '10:30' AS t
            fetchType: FETCH_ONE
    """)
    assert s["state"] == "SUCCESS", s
    big = flow.task(s, "big")["outputs"]
    assert big["size"] == 25000
    lines = flow.file(big["uri"]).read_text().splitlines()
    assert len(lines) == 25000
    first = loads(lines[0])[0]
    assert first["id"] == 1 and first["quarter"] == Decimal("0.25") and first["doc"] == {"g": 1}
    assert first["at"] == dt.datetime(2024, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 01:00Z in Paris
    assert first["day"] == dt.date(2024, 1, 2)
    assert flow.task(s, "one")["outputs"]["row"] == {"app": "", "price": 2, "t": "10:30:00"}


@pytest.fixture
def pg_password_user(pg_cluster, pg_url) -> tuple[str, str, str]:
    """A role that must give its password (scram), on the suite's cluster: (host:port, database, password)."""
    if not isinstance(pg_cluster, PgCluster):
        pytest.skip("an external LANNER_TEST_POSTGRES server: its authentication rules are not ours to change")
    password = "pg-S3cret-42"
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE lanner_app LOGIN PASSWORD '{password}'")
        conn.execute("SELECT pg_reload_conf()")
    hba = pg_cluster.data / "pg_hba.conf"
    text = hba.read_text()
    if "lanner_app" not in text:
        hba.write_text("host all lanner_app 127.0.0.1/32 scram-sha-256\n" + text)
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
    hostport, database = _pg_parts(pg_url)
    return hostport, database, password


def test_postgres_wrong_password_fails_each_attempt_in_one_masked_sentence(flow, pg_password_user):
    hostport, database, password = pg_password_user
    wrong = "Wr0ng-pa55word"
    s = flow(f"""
        id: pg-auth
        namespace: tests.sql
        tasks:
          - id: good
            type: io.kestra.plugin.jdbc.postgresql.Query
            url: jdbc:postgresql://{hostport}/{database}
            username: lanner_app
            password: {password}
            sql: SELECT current_user AS who, '{password}' AS echoed
            fetchType: FETCH_ONE
          - id: bad
            type: io.kestra.plugin.jdbc.postgresql.Query
            url: jdbc:postgresql://{hostport}/{database}?user=lanner_app&password={wrong}
            sql: SELECT 1
            retry:
              type: constant
              maxAttempts: 2
              interval: PT0.1S
    """)
    good = flow.task(s, "good")
    assert good["outputs"]["row"] == {"who": "lanner_app", "echoed": "******"}
    bad = flow.task(s, "bad")
    assert bad["state"] == "FAILED" and len(bad["attempts"]) == 2
    messages = [log["message"] for log in flow.logs(s)]
    failures = [m for m in messages if "cannot connect to" in m]
    assert failures and all(f"{hostport}/{database} as lanner_app" in m and "password authentication failed" in m for m in failures), failures
    assert not any(wrong in m or password in m for m in messages)


def test_unreachable_postgres_is_retried_then_fails_clearly(flow):
    from tests.postgres_fixture import free_port

    port = free_port()  # nothing listens there
    s = flow(f"""
        id: pg-down
        namespace: tests.sql
        tasks:
          - id: down
            type: io.kestra.plugin.jdbc.postgresql.Query
            url: jdbc:postgresql://127.0.0.1:{port}/db
            username: nobody
            sql: SELECT 1
            retry: {{type: constant, maxAttempts: 2, interval: PT0.1S}}
    """)
    tr = flow.task(s, "down")
    assert tr["state"] == "FAILED" and len(tr["attempts"]) == 2
    errors = [log["message"] for log in flow.logs(s, "down") if log["level"] == "ERROR"]
    assert any(f"cannot connect to 127.0.0.1:{port}/db as nobody:" in m and "refused" in m.lower() for m in errors), errors


def test_mariadb_queries_store_and_wrong_password(flow, mariadb):
    url = f"jdbc:mysql://{mariadb['host']}:{mariadb['port']}/{mariadb['database']}?useSSL=false"
    s = flow(f"""
        id: maria
        namespace: tests.sql
        tasks:
          - id: setup
            type: io.kestra.plugin.jdbc.mysql.Queries
            url: "{url}"
            username: {mariadb['user']}
            password: {mariadb['password']}
            sql: |
              CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(8,2), added DATETIME);
              INSERT INTO items VALUES (1, 'pen', 2.50, '2024-05-01 10:00:00'), (2, 'ink', 7.00, '2024-05-02 11:30:00');
          - id: rows
            type: io.kestra.plugin.jdbc.mysql.Query
            url: "{url}"
            username: {mariadb['user']}
            password: {mariadb['password']}
            sql: SELECT id, name, price, added FROM items WHERE price > :min ORDER BY id
            parameters: {{min: 1}}
            fetchType: STORE
            fetchSize: 1
          - id: denied
            type: io.kestra.plugin.jdbc.mysql.Query
            url: "{url}"
            username: {mariadb['user']}
            password: not-the-Pa55
            sql: SELECT 1
            retry: {{type: constant, maxAttempts: 2, interval: PT0.1S}}
    """)
    assert flow.task(s, "setup")["state"] == "SUCCESS", s
    stored = flow.task(s, "rows")["outputs"]
    assert loads(flow.file(stored["uri"]).read_text()) == [
        {"id": 1, "name": "pen", "price": Decimal("2.50"), "added": dt.datetime(2024, 5, 1, 10)},
        {"id": 2, "name": "ink", "price": Decimal("7.00"), "added": dt.datetime(2024, 5, 2, 11, 30)},
    ]
    denied = flow.task(s, "denied")
    assert denied["state"] == "FAILED" and len(denied["attempts"]) == 2
    messages = [log["message"] for log in flow.logs(s)]
    assert any("cannot connect to" in m and "Access denied for user 'lanner'" in m for m in messages)
    assert not any("not-the-Pa55" in m or mariadb["password"] in m for m in messages)
