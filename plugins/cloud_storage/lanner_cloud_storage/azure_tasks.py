"""Kestra's ``io.kestra.plugin.azure.storage.blob.*`` tasks: Upload, Download, Downloads, List, Delete, DeleteList,
Copy, on adlfs through the provider-neutral core."""

from __future__ import annotations

from typing import Any

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, register_task
from lanner_cloud_storage.azure_base import (
    AzureBlobStore,
    AzureBlobTask,
    BlobListProperties,
    BlobObject,
    move_to,
)
from lanner_cloud_storage.common import (
    ACTIONS,
    choice,
    flag,
    integer,
    keep,
    limit_files,
    open_source,
    required,
    scratch,
    source_files,
    string_map,
    text,
)
from lanner_cloud_storage.polling import apply_action

TIERS = ("HOT", "COOL", "COLD", "ARCHIVE", "P4", "P6", "P10", "P15", "P20", "P30", "P40", "P50", "P60", "P70", "P80")


def public(blob: dict[str, Any]) -> dict[str, Any]:
    """A blob as outputs show it (Kestra's ``Blob``: no internal fields)."""
    return {k: v for k, v in blob.items() if k not in ("key", "directory") and v is not None}


@register_task("azure_blob_upload", "io.kestra.plugin.azure.storage.blob.Upload", group="Cloud storage", title="Upload to Azure Blob",
               icon="⬆️", summary="Upload files of internal storage (from) to a blob (container, name); outputs.<id>.blob and blobs.")
class BlobUpload(AzureBlobTask):
    container: str = Field(min_length=1, description="The container.")
    name: str = Field(min_length=1, description="Blob name; further files of a list go under it as a folder.")
    from_: str | list[str] | dict[str, str] = Field(alias="from", description="lanner:/// URI of the file to upload; a list or a map name -> URI uploads several.")
    metadata: dict[str, str] | str | None = Field(default=None, description="Metadata of the blob.")
    tags: dict[str, str] | str | None = Field(default=None, description="Index tags of the blob.")
    access_tier: str | None = Field(default=None, description="HOT, COOL, COLD or ARCHIVE (block blobs).")
    legal_hold: bool | str | None = Field(default=None, description="Not supported: set it in the portal or with the Azure CLI.")
    immutability_policy: dict[str, Any] | None = Field(default=None, description="Not supported: set it in the portal or with the Azure CLI.")
    validate_checksum: bool | str | None = Field(default=None, description="Accepted for Kestra flows; the SDK checks each block it sends.")

    def run(self, ctx: RunContext) -> TaskResult:
        if self.legal_hold is not None or self.immutability_policy is not None:
            raise TaskFailed(f"{self.id}: legalHold and immutabilityPolicy are not supported; remove them or set them with the Azure CLI")
        container = required(ctx.render, self.container, "container", self.id)
        base = required(ctx.render, self.name, "name", self.id)
        files = source_files(ctx, self.from_, self.id)
        metadata = string_map(ctx.render, self.metadata, "metadata", self.id)
        tags = string_map(ctx.render, self.tags, "tags", self.id)
        tier = choice(ctx.render, self.access_tier, "accessTier", self.id, TIERS, "HOT") if self.access_tier else None
        store = self.store(ctx)
        blobs = []
        for index, (file_name, uri) in enumerate(files.items()):
            name = base if index == 0 else f"{base.rstrip('/')}/{file_name}"
            with open_source(ctx, uri, self.id) as source:
                store.upload(source, container, name, **({"metadata": metadata} if metadata else {}))
            if tags:
                store.call("tagging", container, name, "set_blob_tags", tags)
            if tier:
                store.call("setting the tier of", container, name, "set_standard_blob_tier", tier.capitalize() if tier.isalpha() else tier)
            blobs.append(public(store.describe(container, name)))
            ctx.logger.info(f"Uploaded {uri} to az://{container}/{name} ({blobs[-1].get('size', 0)} bytes)")
        return TaskResult({"blob": blobs[0] if len(blobs) == 1 else None, "blobs": blobs})


def download_blob(ctx: RunContext, store: AzureBlobStore, container: str, name: str) -> dict[str, Any]:
    """Stream one blob into internal storage; Kestra's ``Blob`` with its ``uri``."""
    with scratch(ctx) as tmp:
        path = tmp / "object"
        store.download(container, name, path)
        uri = keep(ctx, path, name)
    return {**public(store.describe(container, name)), "uri": uri}


@register_task("azure_blob_download", "io.kestra.plugin.azure.storage.blob.Download", group="Cloud storage", title="Download from Azure Blob",
               icon="⬇️", summary="Download one blob (container, name) into internal storage as outputs.<id>.blob.uri.")
class BlobDownload(AzureBlobTask):
    container: str = Field(min_length=1, description="The container.")
    name: str = Field(min_length=1, description="Name of the blob, e.g. incoming/sales.csv.")
    validate_checksum: bool | str | None = Field(default=None, description="Accepted for Kestra flows; the SDK checks the bytes it reads.")
    fail_on_missing_checksum: bool | str | None = Field(default=None, description="Accepted for Kestra flows.")
    expected_checksum: str | None = Field(default=None, description="Accepted for Kestra flows.")
    checksum_algorithm: str | None = Field(default=None, description="Accepted for Kestra flows.")

    def run(self, ctx: RunContext) -> TaskResult:
        container = required(ctx.render, self.container, "container", self.id)
        name = required(ctx.render, self.name, "name", self.id)
        blob = download_blob(ctx, self.store(ctx), container, name)
        ctx.logger.info(f"Downloaded az://{container}/{name} ({blob.get('size', 0)} bytes)")
        return TaskResult({"blob": blob})


@register_task("azure_blob_list", "io.kestra.plugin.azure.storage.blob.List", group="Cloud storage", title="List Azure blobs", icon="📋",
               summary="List the blobs of a container (prefix, regexp, delimiter, filter) as outputs.<id>.blobs.")
class BlobList(BlobListProperties, AzureBlobTask):
    max_files: int | str | None = Field(default=None, description="At most this many blobs in the outputs (default 25).")

    def run(self, ctx: RunContext) -> TaskResult:
        container, listing = self.blob_listing(ctx.render, self.id)
        blobs = [public(b) for b in self.store(ctx).list(container, listing)]
        ctx.logger.debug(f"Found {len(blobs)} blobs in az://{container}/{listing.prefix}")
        return TaskResult({"blobs": limit_files(ctx, blobs, self.max_files, self.id)})


@register_task("azure_blob_downloads", "io.kestra.plugin.azure.storage.blob.Downloads", group="Cloud storage",
               title="Download many from Azure Blob", icon="📥",
               summary="Download the blobs a listing finds into internal storage, then MOVE, DELETE or keep them (action).")
class BlobDownloads(BlobListProperties, AzureBlobTask):
    action: str = Field(description="What to do with the blobs once downloaded: MOVE (to moveTo), DELETE or NONE.")
    move_to: BlobObject | None = Field(default=None, description="MOVE's destination: container (default: this one) and name (a folder).")
    max_files: int | str | None = Field(default=None, description="At most this many files (default 25).")
    validate_checksum: bool | str | None = Field(default=None, description="Accepted for Kestra flows; the SDK checks the bytes it reads.")
    fail_on_missing_checksum: bool | str | None = Field(default=None, description="Accepted for Kestra flows.")

    def run(self, ctx: RunContext) -> TaskResult:
        container, listing = self.blob_listing(ctx.render, self.id)
        action = choice(ctx.render, self.action, "action", self.id, ACTIONS, "NONE")
        destination = move_to(ctx.render, self.move_to, container, action, self.id)
        store = self.store(ctx)
        blobs = [b for b in limit_files(ctx, store.list(container, listing), self.max_files, self.id) if not b.get("directory")]
        downloaded = [download_blob(ctx, store, container, b["name"]) for b in blobs]
        apply_action(store, container, [b["name"] for b in blobs], action, destination)
        ctx.logger.info(f"Downloaded {len(downloaded)} blobs from az://{container}/{listing.prefix}"
                        + (f" and applied {action}" if action != "NONE" else ""))
        return TaskResult({"blobs": downloaded, "outputFiles": {b["name"]: b["uri"] for b in downloaded}})


@register_task("azure_blob_delete", "io.kestra.plugin.azure.storage.blob.Delete", group="Cloud storage", title="Delete an Azure blob",
               icon="🗑️", summary="Delete one blob (container, name); outputs.<id>.blob describes what was deleted.")
class BlobDelete(AzureBlobTask):
    container: str = Field(min_length=1, description="The container.")
    name: str = Field(min_length=1, description="Name of the blob to delete.")

    def run(self, ctx: RunContext) -> TaskResult:
        container = required(ctx.render, self.container, "container", self.id)
        name = required(ctx.render, self.name, "name", self.id)
        store = self.store(ctx)
        blob = public(store.describe(container, name))
        store.delete(container, name)
        ctx.logger.info(f"Deleted az://{container}/{name}")
        return TaskResult({"blob": blob})


@register_task("azure_blob_delete_list", "io.kestra.plugin.azure.storage.blob.DeleteList", group="Cloud storage",
               title="Delete Azure blobs", icon="🧹", summary="Delete every blob a listing finds (prefix, regexp); outputs.<id>.count and size.")
class BlobDeleteList(BlobListProperties, AzureBlobTask):
    concurrent: int | str | None = Field(default=None, description="Accepted for Kestra flows: blobs are deleted one after the other.")
    error_on_empty: bool | str | None = Field(default=None, description="Fail when the listing finds nothing to delete.")

    def run(self, ctx: RunContext) -> TaskResult:
        integer(ctx.render, self.concurrent, "concurrent", self.id, 2, minimum=2)
        container, listing = self.blob_listing(ctx.render, self.id)
        store = self.store(ctx)
        blobs = [b for b in store.list(container, listing) if not b.get("directory")]
        if not blobs and flag(ctx.render, self.error_on_empty, "errorOnEmpty", self.id):
            raise TaskFailed(f"{self.id}: found no blobs to delete in az://{container}/{listing.prefix}"
                             + (f" matching regexp {listing.regexp!r}" if listing.regexp else "") + " (errorOnEmpty is true)")
        for blob in blobs:
            ctx.raise_if_killed()
            store.delete(container, blob["name"])
        size = sum(int(b.get("size") or 0) for b in blobs)
        ctx.logger.info(f"Deleted {len(blobs)} blobs for {size} bytes")
        return TaskResult({"count": len(blobs), "size": size})


@register_task("azure_blob_copy", "io.kestra.plugin.azure.storage.blob.Copy", group="Cloud storage", title="Copy an Azure blob",
               icon="📑", summary="Copy a blob (from -> to: container and name) within the account, optionally deleting the source.")
class BlobCopy(AzureBlobTask):
    from_: BlobObject = Field(alias="from", description="Source: container and name.")
    to: BlobObject = Field(description="Destination: container (default: the source's) and name.")
    delete: bool | str | None = Field(default=None, description="Delete the source once copied (default false).")

    def run(self, ctx: RunContext) -> TaskResult:
        src_container = required(ctx.render, self.from_.container, "from.container", self.id)
        src_name = required(ctx.render, self.from_.name, "from.name", self.id)
        dst_container = text(ctx.render, self.to.container) or src_container
        dst_name = required(ctx.render, self.to.name, "to.name", self.id)
        if (src_container, src_name) == (dst_container, dst_name):
            raise TaskFailed(f"{self.id}: from and to are the same blob az://{src_container}/{src_name}; give another destination")
        store = self.store(ctx)
        store.copy(src_container, src_name, dst_container, dst_name)
        if flag(ctx.render, self.delete, "delete", self.id):
            store.delete(src_container, src_name)
        ctx.logger.info(f"Copied az://{src_container}/{src_name} to az://{dst_container}/{dst_name}")
        return TaskResult({"blob": public(store.describe(dst_container, dst_name))})
