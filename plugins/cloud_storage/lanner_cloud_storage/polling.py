"""What the S3, GCS and Azure Blob polling triggers share: which listed objects fire, remembering them, and
taking one (download into internal storage, then MOVE / DELETE / NONE).

Every ``interval`` a trigger lists its bucket (or container); each object not
seen yet (``on: CREATE``), seen with another version (``UPDATE``: another ETag
or generation) or either (``CREATE_OR_UPDATE``, the default) is downloaded into
internal storage, moved or deleted (``action``), and starts **one execution**
(Kestra starts one per poll for all the objects found; Lanner starts one per
object, so each file has its own execution, retries and outcome).

What was seen lives in the trigger's state in the store (one entry per listed
key, forgotten once the key is no longer listed or after ``stateTtl``), and
each event's key (object, version, last-modified time) is recorded before its
execution starts: an object fires once, also after a restart or with two
schedulers. At most ``maxFiles`` (default 25, at most 100) objects are taken
per poll; the rest are taken at the next polls. An object whose download or
action fails is left for the next poll, and the objects taken before it still
start their executions.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.sdk import Duration, Field, LannerModel, TaskFailed, TriggerContext, TriggerEvent
from lanner_cloud_storage.common import choice, file_name, integer, move_target
from lanner_cloud_storage.errors import StorageFailure
from lanner_cloud_storage.objects import ObjectStore

ON = ("CREATE", "UPDATE", "CREATE_OR_UPDATE")
#: Executions one poll may start (the scheduler's own cap per poll is 100).
MAX_FILES_LIMIT = 100

#: ``take(object, change type)`` -> the event of that object (it raises StorageFailure when it cannot take it).
Take = Callable[[dict[str, Any], str], TriggerEvent]


class PollingProperties(LannerModel):
    """Which changes fire and how much one poll takes (Kestra's ``StatefulTriggerInterface`` and ``maxFiles``)."""

    on: str | None = Field(default=None, description="Which objects fire: CREATE (new keys), UPDATE (changed version) or CREATE_OR_UPDATE (default).")
    max_files: int | str | None = Field(default=None, description="Objects taken per poll (default 25, at most 100); the rest wait for the next poll.")
    state_key: str | None = Field(default=None, description="Accepted for Kestra flows: the state belongs to this trigger.")
    state_ttl: Duration | None = Field(default=None, description="Forget a seen object after this long, so that it can fire again.")

    def poll_objects(self, ctx: TriggerContext, name: str, listed: list[dict[str, Any]], *, key_of: Callable[[dict[str, Any]], str],
                     version_of: Callable[[dict[str, Any]], str], complete: bool, parked: str | None, take: Take) -> list[TriggerEvent]:
        """The events of the listed objects that fire now (``parked``: a folder whose objects never fire, MOVE's)."""
        on = choice(ctx.render, self.on, "on", name, ON, "CREATE_OR_UPDATE")
        limit = min(integer(ctx.render, self.max_files, "maxFiles", name, 25, minimum=1), MAX_FILES_LIMIT)
        objects = [o for o in listed if not key_of(o).endswith("/") and not (parked and key_of(o).startswith(parked))]
        seen = self._remembered(ctx, {key_of(o) for o in listed}, complete)
        events: list[TriggerEvent] = []
        for obj in objects:
            key, version = key_of(obj), version_of(obj)
            before = seen.get(key)
            change = "CREATE" if before is None else "UPDATE" if before[0] != version else None
            if change is None:
                continue
            if on != "CREATE_OR_UPDATE" and change != on:
                seen[key] = [version, ctx.now.isoformat()]
                continue
            if len(events) >= limit:
                break
            try:
                event = take(obj, change)
            except StorageFailure as exc:
                if exc.reason == "missing":  # another scheduler took it first
                    seen[key] = [version, ctx.now.isoformat()]
                    continue
                ctx.logger.error("%s: %s; the object is taken again at the next poll", name, exc.message)
                break
            seen[key] = [version, ctx.now.isoformat()]
            events.append(event)
        ctx.state["seen"] = seen
        return events

    def _remembered(self, ctx: TriggerContext, listed: set[str], complete: bool) -> dict[str, list[str]]:
        """The objects seen before, less those no longer listed (when the listing was complete) or older than stateTtl."""
        seen = {k: list(v) for k, v in dict(ctx.state.get("seen") or {}).items() if isinstance(v, list) and len(v) == 2}
        if complete:
            seen = {k: v for k, v in seen.items() if k in listed}
        if self.state_ttl is not None:
            oldest = ctx.now - timedelta(seconds=self.state_ttl.total_seconds())
            seen = {k: v for k, v in seen.items() if _parse(v[1]) is None or _parse(v[1]) >= oldest}  # type: ignore[operator]
        return seen


def take_object(ctx: TriggerContext, trigger_id: str, store: ObjectStore, bucket: str, key: str, *,
                fetch: Callable[[Path], Any], action: str, destination: tuple[str, str] | None) -> str:
    """Download one object (``fetch`` writes it to the path it is given) into internal storage, then apply
    ``action``; its ``lanner:///`` URI."""
    if ctx.storage is None:
        raise TaskFailed(f"trigger {trigger_id}: this scheduler has no internal storage to keep {store.url(bucket, key)} in")
    with tempfile.TemporaryDirectory(prefix=f"lanner-{trigger_id}-") as tmp:
        path = Path(tmp) / "object"
        fetch(path)
        folder = secrets.token_hex(11)  # the execution does not exist yet: the file gets a folder of its own
        uri = ctx.storage.put_file(
            f"lanner:///{ctx.namespace}/{ctx.flow_id}/executions/{folder}/trigger/{trigger_id}/{quote(file_name(key, 'object'), safe='')}",
            path, namespace=ctx.namespace)
    apply_action(store, bucket, [key], action, destination)
    return uri


def apply_action(store: ObjectStore, bucket: str, keys: list[str], action: str, destination: tuple[str, str] | None) -> None:
    """DELETE each object, or MOVE it to ``destination`` (bucket, folder); NONE leaves it."""
    for key in keys:
        if action == "DELETE":
            store.delete(bucket, key)
        elif action == "MOVE" and destination is not None:
            store.move(bucket, key, destination[0], move_target(key, destination[1]))


def parked_folder(destination: tuple[str, str] | None, bucket: str) -> str | None:
    """MOVE's folder when it is in the watched bucket: its objects must never fire again."""
    return f"{destination[1].strip('/')}/" if destination and destination[0] == bucket else None


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None
