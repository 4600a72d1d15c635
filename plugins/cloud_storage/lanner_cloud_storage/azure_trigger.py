"""Kestra's ``io.kestra.plugin.azure.storage.blob.Trigger``: start the flow for each new (or changed) blob of a container.

The polling rules (which blobs fire, the state, ``maxFiles``, ``action``) are
:mod:`lanner_cloud_storage.polling`'s; a blob's version is its ETag, like Kestra.
Each execution gets ``{{ trigger.uri }}`` (the blob in internal storage),
Kestra's ``Blob`` fields (``{{ trigger.container }}``, ``name``, ``size``,
``lastModified``, ``eTag``), ``{{ trigger.changeType }}`` and Kestra's
``{{ trigger.blobs }}`` (a list holding that one blob, so a Kestra flow that
loops over it runs unchanged).
"""

from __future__ import annotations

from typing import Any, ClassVar

from engine.sdk import Field, PollingTrigger, TriggerContext, TriggerEvent, register_trigger
from lanner_cloud_storage.azure_base import AzureBlobStore, BlobListProperties, BlobObject, move_to
from lanner_cloud_storage.azure_connection import AzureBlobConnection, azure_filesystem
from lanner_cloud_storage.azure_tasks import public
from lanner_cloud_storage.common import ACTIONS, choice
from lanner_cloud_storage.polling import PollingProperties, parked_folder, take_object


@register_trigger("azure_blob_trigger", "io.kestra.plugin.azure.storage.blob.Trigger", title="When blobs land in Azure", icon="🪣",
                  summary="Poll a container; each new blob is downloaded ({{ trigger.uri }}), moved or deleted (action) and starts one execution.")
class BlobTrigger(BlobListProperties, PollingProperties, AzureBlobConnection, PollingTrigger):
    default_interval: ClassVar[float] = 60.0

    action: str = Field(description="What to do with a blob once downloaded: MOVE (to moveTo), DELETE or NONE.")
    move_to: BlobObject | None = Field(default=None, description="MOVE's destination: container (default: the watched one) and name (a folder).")

    def poll(self, ctx: TriggerContext) -> list[TriggerEvent]:
        name = f"trigger {self.id}"
        container, listing = self.blob_listing(ctx.render, name)
        action = choice(ctx.render, self.action, "action", name, ACTIONS, "NONE")
        destination = move_to(ctx.render, self.move_to, container, action, name)
        fs, endpoint = azure_filesystem(self, ctx.render, lambda _value: None, task=name, connect_timeout=5.0, read_timeout=30.0)
        store = AzureBlobStore(fs, task=name, endpoint=endpoint)
        listed = store.list(container, listing)

        def take(blob: dict[str, Any], change: str) -> TriggerEvent:
            key = blob["name"]
            uri = take_object(ctx, self.id, store, container, key, action=action, destination=destination,
                              fetch=lambda path: store.download(container, key, path))
            found = {**public(blob), "uri": uri, "changeType": change}
            return TriggerEvent(key=f"az://{container}/{key}@{_version(blob)}", variables={**found, "blobs": [found]})

        return self.poll_objects(ctx, name, listed, key_of=lambda b: b["name"], version_of=_version, complete=True,
                                 parked=parked_folder(destination, container), take=take)


def _version(blob: dict[str, Any]) -> str:
    return str(blob.get("eTag") or blob.get("lastModified") or "")
