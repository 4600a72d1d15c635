"""Properties the Azure Blob types share (Kestra's ``AbstractBlobStorageWithSas``, ``ListInterface``,
``ActionInterface``), the store that describes blobs as Kestra's ``Blob``, and how the properties become both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.sdk import Field, LannerModel, RunContext, RunnableTask, TaskFailed
from lanner_cloud_storage.azure_connection import (
    CREDENTIAL_FIELDS,
    ENDPOINT_FIELDS,
    AzureBlobConnection,
    azure_filesystem,
)
from lanner_cloud_storage.common import GROUP, choice, hider, required, text
from lanner_cloud_storage.objects import Listing, ObjectStore

FILTERS = ("FILES", "DIRECTORY", "BOTH")


class AzureBlobStore(ObjectStore):
    """Blobs of one account through adlfs; listings as Kestra's ``Blob`` (container, name, size, lastModified, eTag)."""

    provider = "Azure Blob Storage"
    scheme = "az"
    credential_fields = CREDENTIAL_FIELDS
    endpoint_fields = ENDPOINT_FIELDS

    def _list(self, bucket: str, listing: Listing) -> list[dict[str, Any]]:
        return [blob_of(bucket, entry) for entry in super()._list(bucket, listing)]

    def describe(self, container: str, name: str) -> dict[str, Any]:
        """One blob (its properties) as Kestra's ``Blob``."""
        with self.guard("reading", self.url(container, name)):
            info = self.fs.info(f"{container}/{name}")
        return blob_of(container, {"key": name, "size": info.get("size"), "etag": info.get("etag"),
                                   "lastModified": info.get("last_modified")})

    def blob_client(self, container: str, name: str) -> Any:
        return self.fs.service_client.get_blob_client(container, name)

    def call(self, action: str, container: str, name: str, method: str, *args: Any) -> Any:
        """One Azure SDK call on the blob (set_blob_tags, set_standard_blob_tier...), under the store's errors."""
        from fsspec.asyn import sync

        with self.guard(action, self.url(container, name)):
            return sync(self.fs.loop, getattr(self.blob_client(container, name), method), *args)


def blob_of(container: str, entry: dict[str, Any]) -> dict[str, Any]:
    from lanner_cloud_storage.objects import iso

    out = {"key": entry["key"], "container": container, "name": entry["key"], "size": entry.get("size"),
           "lastModified": iso(entry.get("lastModified")), "eTag": entry.get("etag")}
    if entry.get("directory"):
        out["directory"] = True
    return out


class AzureBlobTask(AzureBlobConnection, RunnableTask):
    """An Azure Blob task: connection properties plus the runner's plumbing."""

    group = GROUP

    def store(self, ctx: RunContext) -> AzureBlobStore:
        fs, endpoint = azure_filesystem(self, ctx.render, hider(ctx), task=self.id)
        return AzureBlobStore(fs, task=self.id, endpoint=endpoint, killed=lambda: ctx.killed)


class BlobObject(LannerModel):
    """A blob (Kestra's ``Copy.CopyObject``): ``from`` / ``to`` of a copy, ``moveTo`` of Downloads and the trigger."""

    container: str | None = Field(default=None, description="Container (for moveTo: default the listed one).")
    name: str | None = Field(default=None, description="Blob name, its virtual path (for moveTo: the folder the blobs go to).")


class BlobListProperties(LannerModel):
    """Which blobs to take (Kestra's Azure ``ListInterface``)."""

    container: str = Field(min_length=1, description="The container, e.g. sales or {{ inputs.container }}.")
    prefix: str | None = Field(default=None, description="Only blobs whose name starts with this prefix, e.g. incoming/.")
    regexp: str | None = Field(default=None, description="Only blobs whose whole name the regular expression matches, e.g. .*\\.csv.")
    delimiter: str | None = Field(default=None, description="Group names up to this character (usually /): one level only.")
    filter: str | None = Field(default=None, description="FILES (default), DIRECTORY (virtual folders) or BOTH.")

    def blob_listing(self, render: Callable[[Any], Any], task: str) -> tuple[str, Listing]:
        return required(render, self.container, "container", task), Listing(
            prefix=text(render, self.prefix) or "", delimiter=text(render, self.delimiter), regexp=text(render, self.regexp),
            filter=choice(render, self.filter, "filter", task, FILTERS, "FILES"), max_keys=100_000)


def move_to(render: Callable[[Any], Any], target: BlobObject | None, container: str, action: str, task: str) -> tuple[str, str] | None:
    """MOVE's (container, folder): ``moveTo.name`` in ``moveTo.container`` (default: the listed container)."""
    if action != "MOVE":
        return None
    folder = text(render, target.name) if target else None
    if folder is None or target is None:
        raise TaskFailed(f"{task}: action MOVE needs moveTo.name, the folder the blobs go to")
    return text(render, target.container) or container, folder
