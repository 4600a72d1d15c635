"""Kestra's ``io.kestra.plugin.aws.s3.Upload``, ``Download``, ``Downloads`` and ``List``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, register_task
from lanner_cloud_storage.common import (
    ACTIONS,
    choice,
    flag,
    keep,
    limit_files,
    open_source,
    required,
    scratch,
    source_files,
    string_map,
    text,
)
from lanner_cloud_storage.objects import Listing
from lanner_cloud_storage.polling import apply_action
from lanner_cloud_storage.s3_base import BucketTask, CopyObject, ListProperties
from lanner_cloud_storage.s3_store import S3Store

#: Upload properties and the PutObject parameter each one sets.
PUT_PARAMS = {
    "cache_control": "CacheControl", "content_type": "ContentType", "content_encoding": "ContentEncoding",
    "content_disposition": "ContentDisposition", "content_language": "ContentLanguage", "acl": "ACL",
    "storage_class": "StorageClass", "server_side_encryption": "ServerSideEncryption",
    "checksum_algorithm": "ChecksumAlgorithm", "expected_bucket_owner": "ExpectedBucketOwner",
    "object_lock_mode": "ObjectLockMode", "object_lock_legal_hold_status": "ObjectLockLegalHoldStatus",
    "request_payer": "RequestPayer",
}


@register_task("s3_upload", "io.kestra.plugin.aws.s3.Upload", group="Cloud storage", title="Upload to S3", icon="⬆️",
               summary="Upload files of internal storage (one URI, a list or a map name -> URI) to an S3 bucket.")
class S3Upload(BucketTask):
    from_: str | list[str] | dict[str, str] = Field(alias="from", description="lanner:/// URI of the file to upload; a list or a map name -> URI uploads several under key.")
    key: str = Field(min_length=1, description="Object key; with several files, the prefix they are uploaded under.")
    metadata: dict[str, str] | str | None = Field(default=None, description="User metadata stored with the object.")
    cache_control: str | None = Field(default=None, description="Cache-Control of the object.")
    content_type: str | None = Field(default=None, description="Content-Type of the object, e.g. text/csv.")
    content_encoding: str | None = Field(default=None, description="Content-Encoding of the object.")
    content_disposition: str | None = Field(default=None, description="Content-Disposition of the object.")
    content_language: str | None = Field(default=None, description="Content-Language of the object.")
    content_length: int | str | None = Field(default=None, description="Accepted for Kestra flows: the length is measured while uploading.")
    expires: str | None = Field(default=None, description="Expires header, an ISO-8601 date-time.")
    acl: str | None = Field(default=None, description="Canned ACL, e.g. private, public-read.")
    storage_class: str | None = Field(default=None, description="Storage class, e.g. STANDARD, STANDARD_IA, GLACIER.")
    server_side_encryption: str | None = Field(default=None, description="AES256, aws:kms or aws:kms:dsse.")
    bucket_key_enabled: bool | str | None = Field(default=None, description="Use an S3 Bucket Key with SSE-KMS.")
    checksum_algorithm: str | None = Field(default=None, description="CRC32, CRC32C, SHA1 or SHA256: S3 checks the upload with it.")
    checksum: str | None = Field(default=None, description="Accepted for Kestra flows; use checksumAlgorithm to have S3 check the data.")
    expected_bucket_owner: str | None = Field(default=None, description="Account id the bucket must belong to.")
    object_lock_mode: str | None = Field(default=None, description="GOVERNANCE or COMPLIANCE.")
    object_lock_legal_hold_status: str | None = Field(default=None, description="ON or OFF.")
    object_lock_retain_until_date: str | None = Field(default=None, description="ISO-8601 date-time until which the object is locked.")
    tagging: dict[str, str] | str | None = Field(default=None, description="Tags of the object.")
    concurrent_uploads: int | str | None = Field(default=None, description="Accepted for Kestra flows; files are uploaded one after the other.")

    def put_params(self, ctx: RunContext) -> dict[str, Any]:
        params: dict[str, Any] = {aws: text(ctx.render, getattr(self, name)) for name, aws in PUT_PARAMS.items()}
        params["Metadata"] = string_map(ctx.render, self.metadata, "metadata", self.id)
        tags = string_map(ctx.render, self.tagging, "tagging", self.id)
        params["Tagging"] = urlencode(tags) if tags else None
        if self.bucket_key_enabled is not None:
            params["BucketKeyEnabled"] = flag(ctx.render, self.bucket_key_enabled, "bucketKeyEnabled", self.id)
        for name, field, aws in (("expires", "expires", "Expires"),
                                 ("object_lock_retain_until_date", "objectLockRetainUntilDate", "ObjectLockRetainUntilDate")):
            value = text(ctx.render, getattr(self, name))
            if value:
                try:
                    params[aws] = datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    raise TaskFailed(f"{self.id}: {field} {value!r} is not an ISO-8601 date-time") from None
        return params

    def run(self, ctx: RunContext) -> TaskResult:
        bucket = required(ctx.render, self.bucket, "bucket", self.id)
        key = required(ctx.render, self.key, "key", self.id)
        files = source_files(ctx, self.from_, self.id)
        params = self.put_params(ctx)
        store = self.store(ctx)
        several = not (isinstance(self.from_, str) and len(files) == 1)
        results: dict[str, Any] = {}
        for name, uri in files.items():
            target = f"{key.rstrip('/')}/{name}" if several else key
            with open_source(ctx, uri, self.id) as source:
                results[name] = store.put(source, bucket, target, **params)
            ctx.logger.info(f"Uploaded {uri} to {store.url(bucket, target)} ({results[name].get('contentLength', 0)} bytes)")
        if not several:
            only = next(iter(results.values()))
            return TaskResult({"bucket": bucket, "key": key, "eTag": only.get("eTag"), "versionId": only.get("versionId")})
        return TaskResult({"bucket": bucket, "key": key, "files": results})


def download_object(ctx: RunContext, store: S3Store, bucket: str, key: str, params: dict[str, Any]) -> dict[str, Any]:
    """Stream one object into internal storage; Kestra's file info with its ``uri``."""
    with scratch(ctx) as tmp:
        path = tmp / "object"
        info = store.get(bucket, key, path, **params)
        info["uri"] = keep(ctx, path, key)
    return info


def get_params(ctx: RunContext, task: Any, version_id: Any = None) -> dict[str, Any]:
    return {
        "VersionId": text(ctx.render, version_id),
        "RequestPayer": text(ctx.render, task.request_payer),
        "ExpectedBucketOwner": text(ctx.render, getattr(task, "expected_bucket_owner", None)),
        "ChecksumMode": "ENABLED" if flag(ctx.render, getattr(task, "validate_checksum", None), "validateChecksum", task.id) else None,
    }


@register_task("s3_download", "io.kestra.plugin.aws.s3.Download", group="Cloud storage", title="Download from S3", icon="⬇️",
               summary="Download one S3 object (key) into internal storage as outputs.<id>.uri, or several (prefix, regexp) as outputs.<id>.files.")
class S3Download(ListProperties, BucketTask):
    key: str | None = Field(default=None, description="Key of the object to download (single-file mode).")
    version_id: str | None = Field(default=None, description="Version of the object to download.")
    max_files: int | str | None = Field(default=None, description="Multi-file mode: at most this many files (default 25).")
    validate_checksum: bool | str | None = Field(default=None, description="Have the SDK check the bytes against the checksum S3 stored.")
    compatibility_mode: bool | str | None = Field(default=None, description="Accepted for Kestra flows; changes nothing.")

    def run(self, ctx: RunContext) -> TaskResult:
        bucket = required(ctx.render, self.bucket, "bucket", self.id)
        several = self.prefix is not None or self.delimiter is not None or self.regexp is not None
        if self.key is None and not several:
            raise TaskFailed(f"{self.id}: give key to download one object, or prefix, delimiter or regexp to download several")
        store = self.store(ctx)
        if not several:
            key = required(ctx.render, self.key, "key", self.id)
            info = download_object(ctx, store, bucket, key, get_params(ctx, self, self.version_id))
            ctx.logger.info(f"Downloaded {store.url(bucket, key)} ({info.get('contentLength', 0)} bytes)")
            return TaskResult(info)
        listing = self.listing(ctx.render, self.id, self.request_payer, default_filter="FILES")
        objects = limit_files(ctx, store.list(bucket, _files_only(listing)), self.max_files, self.id)
        if not objects:
            ctx.logger.warn("No objects found matching the filter criteria")
        params = get_params(ctx, self)
        files = {obj["key"]: download_object(ctx, store, bucket, obj["key"], params) for obj in objects}
        return TaskResult({"files": files})


def _files_only(listing: Listing) -> Listing:
    from dataclasses import replace

    return replace(listing, filter="FILES")


@register_task("s3_downloads", "io.kestra.plugin.aws.s3.Downloads", group="Cloud storage", title="Download many from S3", icon="📥",
               summary="Download the objects a listing finds into internal storage, then MOVE, DELETE or keep them (action).")
class S3Downloads(ListProperties, BucketTask):
    action: str = Field(description="What to do with the objects once downloaded: MOVE (to moveTo), DELETE or NONE.")
    move_to: CopyObject | None = Field(default=None, description="MOVE's destination: bucket (default: this one) and key (a folder).")
    max_files: int | str | None = Field(default=None, description="At most this many files (default 25).")
    validate_checksum: bool | str | None = Field(default=None, description="Have the SDK check the bytes against the checksum S3 stored.")
    compatibility_mode: bool | str | None = Field(default=None, description="Accepted for Kestra flows; changes nothing.")

    def run(self, ctx: RunContext) -> TaskResult:
        bucket = required(ctx.render, self.bucket, "bucket", self.id)
        action = choice(ctx.render, self.action, "action", self.id, ACTIONS, "NONE")
        destination = move_destination(ctx.render, self.move_to, None, bucket, action, self.id)
        store = self.store(ctx)
        listing = self.listing(ctx.render, self.id, self.request_payer)
        objects = limit_files(ctx, store.list(bucket, listing), self.max_files, self.id)
        params = get_params(ctx, self)
        downloaded = []
        for obj in objects:
            if obj["key"].endswith("/"):
                continue  # a folder marker has nothing to download
            info = download_object(ctx, store, bucket, obj["key"], params)
            downloaded.append({**obj, "uri": info["uri"], "checksumAlgorithm": info.get("checksumAlgorithm"),
                               "checksumValue": info.get("checksumValue")})
        apply_action(store, bucket, [o["key"] for o in objects], action, destination)
        ctx.logger.info(f"Downloaded {len(downloaded)} objects from {store.url(bucket, listing.prefix)}"
                        + (f" and applied {action}" if action != "NONE" else ""))
        clean = [{k: v for k, v in o.items() if v is not None} for o in downloaded]
        return TaskResult({"objects": clean, "outputFiles": {o["key"]: o["uri"] for o in clean}})


def move_destination(render: Any, move_to: CopyObject | None, move_directory: Any, bucket: str, action: str,
                     task: str) -> tuple[str, str] | None:
    """(bucket, folder) MOVE puts objects in: ``moveTo`` (Kestra's S3 spelling) or ``moveDirectory`` (a folder here)."""
    if action != "MOVE":
        return None
    folder_only = text(render, move_directory)
    if move_to is not None:
        folder = text(render, move_to.key)
        if folder is None:
            raise TaskFailed(f"{task}: moveTo.key is required with action MOVE: the folder the objects go to")
        return text(render, move_to.bucket) or bucket, folder
    if folder_only is not None:
        return bucket, folder_only
    raise TaskFailed(f"{task}: action MOVE needs moveTo (bucket and key) or moveDirectory: where the objects go")


@register_task("s3_list", "io.kestra.plugin.aws.s3.List", group="Cloud storage", title="List S3 objects", icon="📋",
               summary="List the objects of a bucket (prefix, regexp, filter) as outputs.<id>.objects: key, etag, size, lastModified.")
class S3List(ListProperties, BucketTask):
    max_files: int | str | None = Field(default=None, description="At most this many objects in the outputs (default 25).")

    def run(self, ctx: RunContext) -> TaskResult:
        bucket = required(ctx.render, self.bucket, "bucket", self.id)
        store = self.store(ctx)
        listing = self.listing(ctx.render, self.id, self.request_payer)
        objects = store.list(bucket, listing)
        ctx.logger.debug(f"Found {len(objects)} keys in {store.url(bucket, listing.prefix)}")
        return TaskResult({"objects": limit_files(ctx, objects, self.max_files, self.id)})
