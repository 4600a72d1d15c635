"""Kestra's ``io.kestra.plugin.aws.s3.Trigger``: start the flow for each new (or changed) object of a bucket.

The polling rules (which objects fire, the state, ``maxFiles``, ``action``) are
:mod:`lanner_cloud_storage.polling`'s. Each execution gets ``{{ trigger.uri }}``,
``{{ trigger.key }}``, ``{{ trigger.bucket }}``, ``{{ trigger.size }}``,
``{{ trigger.etag }}``, ``{{ trigger.lastModified }}``, ``{{ trigger.changeType }}``
and Kestra's ``{{ trigger.objects }}`` (a list holding that one object, so a
Kestra flow that loops over it runs unchanged). An object's version is its ETag.
"""

from __future__ import annotations

from typing import Any, ClassVar

from engine.sdk import Field, PollingTrigger, TriggerContext, TriggerEvent, register_trigger
from lanner_cloud_storage.common import ACTIONS, choice, required, text
from lanner_cloud_storage.polling import PollingProperties, parked_folder, take_object
from lanner_cloud_storage.s3_base import CopyObject, ListProperties
from lanner_cloud_storage.s3_connection import TRIGGER_REQUEST_ATTEMPTS, S3Connection, s3_filesystem
from lanner_cloud_storage.s3_store import S3Store
from lanner_cloud_storage.s3_transfer import move_destination


@register_trigger("s3_trigger", "io.kestra.plugin.aws.s3.Trigger", title="When objects land in S3", icon="🪣",
                  summary="Poll a bucket; each new object is downloaded ({{ trigger.uri }}), moved or deleted (action) and starts one execution.")
class S3Trigger(ListProperties, PollingProperties, S3Connection, PollingTrigger):
    default_interval: ClassVar[float] = 60.0

    bucket: str = Field(min_length=1, description="The bucket to watch.")
    request_payer: str | None = Field(default=None, description="requester: the caller pays for a Requester Pays bucket.")
    action: str = Field(description="What to do with an object once downloaded: MOVE (to moveTo or moveDirectory), DELETE or NONE.")
    move_to: CopyObject | None = Field(default=None, description="MOVE's destination: bucket (default: the watched one) and key (a folder).")
    move_directory: str | None = Field(default=None, description="MOVE's destination folder in the watched bucket (shorthand for moveTo.key).")

    def poll(self, ctx: TriggerContext) -> list[TriggerEvent]:
        render = ctx.render
        name = f"trigger {self.id}"
        bucket = required(render, self.bucket, "bucket", name)
        action = choice(render, self.action, "action", name, ACTIONS, "NONE")
        destination = move_destination(render, self.move_to, self.move_directory, bucket, action, name)
        fs, endpoint = s3_filesystem(self, render, lambda _value: None, task=name, attempts=TRIGGER_REQUEST_ATTEMPTS,
                                     connect_timeout=5.0, read_timeout=30.0, requester_pays=bool(text(render, self.request_payer)))
        store = S3Store(fs, task=name, endpoint=endpoint)
        listing = self.listing(render, name, self.request_payer)
        listed = store.list(bucket, listing)
        payer = text(render, self.request_payer)

        def take(obj: dict[str, Any], change: str) -> TriggerEvent:
            key = obj["key"]
            uri = take_object(ctx, self.id, store, bucket, key, action=action, destination=destination,
                              fetch=lambda path: store.get(bucket, key, path, RequestPayer=payer))
            found = {k: v for k, v in {**obj, "uri": uri, "changeType": change}.items() if v is not None}
            identity = f"s3://{bucket}/{key}@{obj.get('etag') or ''}@{obj.get('lastModified') or ''}"
            return TriggerEvent(key=identity, variables={**found, "bucket": bucket, "objects": [found]})

        return self.poll_objects(ctx, name, listed, key_of=lambda o: o["key"],
                                 version_of=lambda o: str(o.get("etag") or o.get("lastModified") or ""),
                                 complete=len(listed) < listing.max_keys, parked=parked_folder(destination, bucket), take=take)
