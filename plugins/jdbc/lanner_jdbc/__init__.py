"""Lanner's SQL plugin: Kestra's ``io.kestra.plugin.jdbc.<db>.Query``, ``Queries`` and ``Trigger``.

PostgreSQL (psycopg), MySQL and MariaDB (PyMySQL), SQLite and DuckDB, all
through SQLAlchemy; Kestra's JDBC URLs are translated (``lanner_jdbc.urls``).
"""
