"""Kestra's ``io.kestra.plugin.aws.s3.Trigger``: start the flow for each new (or changed) object of a bucket.

Every ``interval`` (default PT1M) the trigger lists the bucket (``prefix``,
``regexp``...), and for each object it has not seen yet (``on: CREATE``), seen
with another ETag (``UPDATE``) or either (``CREATE_OR_UPDATE``, the default):
downloads it into internal storage, applies ``action`` (``MOVE`` to
``moveTo`` / ``moveDirectory``, ``DELETE``, or ``NONE``), and starts one
execution with ``{{ trigger.uri }}``, ``{{ trigger.key }}``,
``{{ trigger.bucket }}``, ``{{ trigger.size }}``, ``{{ trigger.etag }}``,
``{{ trigger.lastModified }}``, ``{{ trigger.changeType }}`` and Kestra's
``{{ trigger.objects }}`` (a list holding that one object, so a Kestra flow that
loops over it runs unchanged). Kestra starts one execution per poll for all the
objects found; Lanner starts one per object, so each file has its own
execution, retries and outcome.

What was seen lives in the trigger's state in the store (one entry per listed
key, forgotten once the key is no longer listed or after ``stateTtl``), and
each event's key (bucket, key, ETag, last-modified time) is recorded before its
execution starts: an object fires once, also after a restart or with two
schedulers. At most ``maxFiles`` (default 25, at most 100) objects are taken per
poll; the rest are taken at the next polls. An object whose download or action
fails is left for the next poll, and the objects taken before it still start
their executions.
"""

from __future__ import annotations

import secrets
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from engine.sdk import (
    Duration,
    Field,
    PollingTrigger,
    TaskFailed,
    TriggerContext,
    TriggerEvent,
    register_trigger,
)
from lanner_cloud_storage.common import choice, file_name, integer, required, text
from lanner_cloud_storage.errors import StorageFailure
from lanner_cloud_storage.s3_base import ACTIONS, CopyObject, ListProperties, move_target
from lanner_cloud_storage.s3_connection import TRIGGER_REQUEST_ATTEMPTS, S3Connection, s3_filesystem
from lanner_cloud_storage.s3_store import S3Store
from lanner_cloud_storage.s3_transfer import move_destination

ON = ("CREATE", "UPDATE", "CREATE_OR_UPDATE")
#: Executions one poll may start (the scheduler's own cap per poll is 100).
MAX_FILES_LIMIT = 100


@register_trigger("s3_trigger", "io.kestra.plugin.aws.s3.Trigger", title="When objects land in S3", icon="🪣",
                  summary="Poll a bucket; each new object is downloaded ({{ trigger.uri }}), moved or deleted (action) and starts one execution.")
class S3Trigger(ListProperties, S3Connection, PollingTrigger):
    default_interval: ClassVar[float] = 60.0

    bucket: str = Field(min_length=1, description="The bucket to watch.")
    request_payer: str | None = Field(default=None, description="requester: the caller pays for a Requester Pays bucket.")
    action: str = Field(description="What to do with an object once downloaded: MOVE (to moveTo or moveDirectory), DELETE or NONE.")
    move_to: CopyObject | None = Field(default=None, description="MOVE's destination: bucket (default: the watched one) and key (a folder).")
    move_directory: str | None = Field(default=None, description="MOVE's destination folder in the watched bucket (shorthand for moveTo.key).")
    on: str | None = Field(default=None, description="Which objects fire: CREATE (new keys), UPDATE (changed ETag) or CREATE_OR_UPDATE (default).")
    max_files: int | str | None = Field(default=None, description="Objects taken per poll (default 25, at most 100); the rest wait for the next poll.")
    state_key: str | None = Field(default=None, description="Accepted for Kestra flows: the state belongs to this trigger.")
    state_ttl: Duration | None = Field(default=None, description="Forget a seen object after this long, so that it can fire again.")

    def poll(self, ctx: TriggerContext) -> list[TriggerEvent]:
        render = ctx.render
        name = f"trigger {self.id}"
        bucket = required(render, self.bucket, "bucket", name)
        action = choice(render, self.action, "action", name, ACTIONS, "NONE")
        on = choice(render, self.on, "on", name, ON, "CREATE_OR_UPDATE")
        limit = min(integer(render, self.max_files, "maxFiles", name, 25, minimum=1), MAX_FILES_LIMIT)
        destination = move_destination(render, self.move_to, self.move_directory, bucket, action, name)
        fs, endpoint = s3_filesystem(self, render, lambda _value: None, task=name, attempts=TRIGGER_REQUEST_ATTEMPTS,
                                     connect_timeout=5.0, read_timeout=30.0, requester_pays=bool(text(render, self.request_payer)))
        store = S3Store(fs, task=name, endpoint=endpoint)
        listing = self.listing(render, name, self.request_payer)
        listed = store.list(bucket, listing)
        parked = f"{destination[1].strip('/')}/" if destination and destination[0] == bucket else None
        objects = [o for o in listed if not o["key"].endswith("/") and not (parked and o["key"].startswith(parked))]
        seen = self._remembered(ctx, {o["key"] for o in listed}, complete=len(listed) < listing.max_keys)
        events: list[TriggerEvent] = []
        for obj in objects:
            version = str(obj.get("etag") or obj.get("lastModified") or "")
            before = seen.get(obj["key"])
            change = "CREATE" if before is None else "UPDATE" if before[0] != version else None
            if change is None:
                continue
            if on != "CREATE_OR_UPDATE" and change != on:
                seen[obj["key"]] = [version, ctx.now.isoformat()]
                continue
            if len(events) >= limit:
                break
            try:
                event = self._take(ctx, store, bucket, obj, change, action, destination)
            except StorageFailure as exc:
                if exc.reason == "missing":  # another scheduler took it first
                    seen[obj["key"]] = [version, ctx.now.isoformat()]
                    continue
                ctx.logger.error("%s: %s; the object is taken again at the next poll", name, exc.message)
                break
            seen[obj["key"]] = [version, ctx.now.isoformat()]
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

    def _take(self, ctx: TriggerContext, store: S3Store, bucket: str, obj: dict[str, Any], change: str, action: str,
              destination: tuple[str, str] | None) -> TriggerEvent:
        key = obj["key"]
        if ctx.storage is None:
            raise TaskFailed(f"trigger {self.id}: this scheduler has no internal storage to keep {store.url(bucket, key)} in")
        with tempfile.TemporaryDirectory(prefix=f"lanner-{self.id}-") as tmp:
            path = Path(tmp) / "object"
            store.get(bucket, key, path, RequestPayer=text(ctx.render, self.request_payer))
            folder = secrets.token_hex(11)  # the execution does not exist yet: the file gets a folder of its own
            uri = ctx.storage.put_file(
                f"lanner:///{ctx.namespace}/{ctx.flow_id}/executions/{folder}/trigger/{self.id}/{_quote(file_name(key, 'object'))}",
                path, namespace=ctx.namespace)
        if action == "DELETE":
            store.delete(bucket, key)
        elif action == "MOVE" and destination is not None:
            store.move(bucket, key, destination[0], move_target(key, destination[1]))
        found = {k: v for k, v in {**obj, "uri": uri, "changeType": change}.items() if v is not None}
        identity = f"s3://{bucket}/{key}@{obj.get('etag') or ''}@{obj.get('lastModified') or ''}"
        return TriggerEvent(key=identity, variables={**found, "bucket": bucket, "objects": [found]})


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
