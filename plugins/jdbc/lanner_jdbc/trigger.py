"""Kestra's ``io.kestra.plugin.jdbc.<db>.Trigger``: run a query every ``interval``, start the flow when it returns rows.

The rows are the execution's ``{{ trigger.rows }}`` (``FETCH``, the default),
``{{ trigger.row }}`` (``FETCH_ONE``) or a stored Ion file ``{{ trigger.uri }}``
(``STORE``), with ``{{ trigger.size }}``. Use ``afterSQL`` to mark the rows as
processed in the same transaction, or the next poll finds them again.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any, ClassVar

from engine.sdk import PollingTrigger, TaskFailed, TriggerContext, TriggerEvent, register_trigger
from lanner_jdbc.query import DB_NAMES, Run, SqlProperties


class SqlTrigger(SqlProperties, PollingTrigger):
    default_interval: ClassVar[float] = 60.0
    default_fetch_type: ClassVar[str] = "FETCH"

    def poll(self, ctx: TriggerContext) -> TriggerEvent | None:
        if self.resolved_fetch_type() == "NONE":
            raise TaskFailed("fetchType NONE is not valid for triggers: the trigger would never fire; use FETCH, FETCH_ONE or STORE")
        secrets_seen: list[str] = []
        run = Run(self, self.id, lambda v, extra=None: ctx.render(v), secrets_seen.append, ctx.logger.warning,
                  threading.Event(), lambda: None)
        try:
            target = run.target(self.connection_url(ctx.render), Path.cwd())
            outputs = run.run(target, True, True, lambda path: self._store(ctx, path))
        except TaskFailed as exc:
            message = exc.message
            for value in secrets_seen:
                if value and len(value) >= 3:
                    message = message.replace(value, "******")
            raise TaskFailed(message) from None
        finally:
            run.close()
        found = outputs[0] if outputs else {}
        if not found.get("size"):
            return None
        return TriggerEvent(key=f"{ctx.now.isoformat()}", variables=found)

    def _store(self, ctx: TriggerContext, path: Path) -> str:
        if ctx.storage is None:
            raise TaskFailed("fetchType STORE needs internal storage, which this scheduler has not")
        uri = f"lanner:///{ctx.namespace}/{ctx.flow_id}/executions/{secrets.token_hex(11)}/trigger/{self.id}.ion"
        return ctx.storage.put_bytes(uri, path.read_bytes(), namespace=ctx.namespace)


def _trigger(db: str, icon: str) -> type[SqlTrigger]:
    name = DB_NAMES[db]
    package = {"postgres": "postgresql"}.get(db, db)
    cls = type(f"{name}Trigger", (SqlTrigger,), {"db": db, "__module__": __name__, "__qualname__": f"{name}Trigger"})
    return register_trigger(
        f"io.kestra.plugin.jdbc.{package}.Trigger",
        title=f"{name} rows",
        icon=icon,
        summary=f"Poll {name} with a query and start the flow when it returns rows ({{{{ trigger.rows }}}}).",
    )(cls)


PostgresTrigger = _trigger("postgres", "🐘")
MysqlTrigger = _trigger("mysql", "🐬")
SqliteTrigger = _trigger("sqlite", "🪶")
DuckDbTrigger = _trigger("duckdb", "🦆")


def __getattr__(name: str) -> Any:  # pragma: no cover - helps a typo in an entry point say what exists
    raise AttributeError(f"lanner_jdbc.trigger has no {name!r}: PostgresTrigger, MysqlTrigger, SqliteTrigger, DuckDbTrigger")
