"""Every table of the store, on one ``MetaData``.

The repositories (:mod:`engine.store.sql`, :mod:`engine.store.kv`,
:mod:`engine.store.triggers`, :mod:`engine.store.commands`,
:mod:`engine.store.leases`) import their tables from here, so none of them
imports another to have its tables registered, and the Alembic migrations
compare the database with this one module.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

flows = Table(
    "flows",
    metadata,
    Column("namespace", String(150), primary_key=True),
    Column("id", String(100), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("updated", String(40), nullable=False),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("namespace", String(150), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("flow_revision", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("inputs", Text),
    Column("outputs", Text),
    Column("labels", Text),
    Column("trigger", Text),
    Column("parent", Text),
    Column("meta", Text),
    Column("start_date", String(40)),
    Column("end_date", String(40)),
    Column("updated", String(40)),
    # Which runner process executes it, until when (epoch seconds); see engine/store/leases.py.
    Column("owner", String(64)),
    Column("lease_until", Float),
    Index("ix_executions_flow", "namespace", "flow_id", "start_date"),
    Index("ix_executions_state", "state"),
    Index("ix_executions_start", "start_date"),
    Index("ix_executions_owner", "owner"),
)

task_runs = Table(
    "task_runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("execution_id", String(40), nullable=False),
    Column("task_id", String(100), nullable=False),
    Column("parent_task_run_id", String(40)),
    Column("value", Text),
    Column("iteration", Integer),
    Column("state", String(16), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("attempts", Text),
    Column("outputs", Text),
    Column("meta", Text),
    Column("start_date", String(40)),
    Column("end_date", String(40)),
    Index("ix_task_runs_execution", "execution_id", "seq"),
)

logs = Table(
    "logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("execution_id", String(40), nullable=False),
    Column("task_run_id", String(40)),
    Column("task_id", String(100)),
    Column("attempt", Integer),
    Column("level", String(8), nullable=False),
    Column("timestamp", String(40), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_logs_execution", "execution_id", "id"),
)

kv_entries = Table(
    "kv_entries",
    metadata,
    Column("namespace", String(150), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
    Column("type", String(16), nullable=False),
    Column("updated", String(40), nullable=False),
    Column("expiration", String(40)),  # ISO-8601 UTC; NULL: never expires
)

# Kill/resume posted for executions another runner process owns (engine/store/commands.py).
execution_commands = Table(
    "execution_commands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("execution_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", Text),
    Column("created", String(40), nullable=False),
    Index("ix_execution_commands_execution", "execution_id"),
)

# Trigger bookkeeping (engine/store/triggers.py).
trigger_states = Table(
    "trigger_states",
    metadata,
    Column("namespace", String(150), primary_key=True),
    Column("flow_id", String(100), primary_key=True),
    Column("trigger_id", String(100), primary_key=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("next_date", String(40)),
    Column("signature", Text),
    Column("progress", Text),
    Column("last_error", Text),
    Column("updated", String(40), nullable=False),
)

trigger_firings = Table(
    "trigger_firings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("namespace", String(150), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("trigger_id", String(100), nullable=False),
    Column("source", String(60), nullable=False),
    Column("date", String(400), nullable=False),
    Column("execution_id", String(40)),
    Column("created", String(40), nullable=False),
    UniqueConstraint("namespace", "flow_id", "trigger_id", "source", "date", name="uq_trigger_firing"),
)

trigger_backfills = Table(
    "trigger_backfills",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("namespace", String(150), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("trigger_id", String(100), nullable=False),
    Column("start", String(40), nullable=False),
    Column("end", String(40), nullable=False),
    Column("cursor", String(40)),
    Column("inputs", Text),
    Column("labels", Text),
    Column("state", String(16), nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)

# Custom dashboards (engine/store/dashboards.py): the YAML definition as written, with its title for lists.
dashboards = Table(
    "dashboards",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("source", Text, nullable=False),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)
