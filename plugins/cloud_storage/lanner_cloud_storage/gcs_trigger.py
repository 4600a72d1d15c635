"""Kestra's ``io.kestra.plugin.gcp.gcs.Trigger``: start the flow for each new (or changed) object under a gs:// folder.

The polling rules (which objects fire, the state, ``maxFiles``, ``action``) are
:mod:`lanner_cloud_storage.polling`'s; an object's version is its generation and
metageneration, like Kestra. Each execution gets ``{{ trigger.uri }}`` (the
object in internal storage), Kestra's ``Blob`` fields (``{{ trigger.name }}``,
``bucket``, ``size``, ``md5``, ``updateTime``...), ``{{ trigger.changeType }}`` and
Kestra's ``{{ trigger.blobs }}`` (a list holding that one object, so a Kestra
flow that loops over it runs unchanged).
"""

from __future__ import annotations

from typing import Any, ClassVar

from engine.sdk import Field, PollingTrigger, TriggerContext, TriggerEvent, register_trigger
from lanner_cloud_storage.common import ACTIONS, choice
from lanner_cloud_storage.gcs_base import GcsListProperties, move_folder
from lanner_cloud_storage.gcs_connection import GcsConnection, gcs_filesystem
from lanner_cloud_storage.gcs_store import GcsStore
from lanner_cloud_storage.polling import PollingProperties, parked_folder, take_object


@register_trigger("gcs_trigger", "io.kestra.plugin.gcp.gcs.Trigger", title="When objects land in GCS", icon="🪣",
                  summary="Poll a gs:// folder; each new object is downloaded ({{ trigger.uri }}), moved or deleted (action) and starts one execution.")
class GcsTrigger(GcsListProperties, PollingProperties, GcsConnection, PollingTrigger):
    default_interval: ClassVar[float] = 60.0

    action: str | None = Field(default=None, description="What to do with an object once downloaded: MOVE (to moveDirectory), DELETE or NONE (default).")
    move_directory: str | None = Field(default=None, description="MOVE's destination, a gs:// folder, e.g. gs://my-bucket/archive/.")

    def poll(self, ctx: TriggerContext) -> list[TriggerEvent]:
        name = f"trigger {self.id}"
        action = choice(ctx.render, self.action, "action", name, ACTIONS, "NONE")
        destination = move_folder(ctx.render, self.move_directory, action, name)
        fs, endpoint = gcs_filesystem(self, ctx.render, lambda _value: None, task=name)
        store = GcsStore(fs, task=name, endpoint=endpoint)
        bucket, listing = self.gcs_listing(ctx.render, name, "FILES")
        listed = store.list(bucket, listing)

        def take(blob: dict[str, Any], change: str) -> TriggerEvent:
            key = blob["name"]
            uri = take_object(ctx, self.id, store, bucket, key, action=action, destination=destination,
                              fetch=lambda path: store.download(bucket, key, path))
            found = {k: v for k, v in {**blob, "uri": uri, "changeType": change}.items() if v is not None and k != "key"}
            identity = f"gs://{bucket}/{key}@{_version(blob)}"
            return TriggerEvent(key=identity, variables={**found, "blobs": [found]})

        return self.poll_objects(ctx, name, listed, key_of=lambda b: b["name"], version_of=_version, complete=True,
                                 parked=parked_folder(destination, bucket), take=take)


def _version(blob: dict[str, Any]) -> str:
    return f"generation:{blob.get('generation') or 0}_metageneration:{blob.get('metaGeneration') or 0}"
