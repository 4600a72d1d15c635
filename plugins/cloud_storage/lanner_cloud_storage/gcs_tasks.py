"""Kestra's ``io.kestra.plugin.gcp.gcs.*`` tasks: Upload, Download, Downloads, List, Delete, DeleteList, Copy,
CreateBucket, on gcsfs through the provider-neutral core."""

from __future__ import annotations

from typing import Any

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, register_task
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
from lanner_cloud_storage.errors import StorageFailure
from lanner_cloud_storage.gcs_base import GcsListProperties, GcsTask, Md5Reader, move_folder
from lanner_cloud_storage.gcs_store import GcsStore, split_uri
from lanner_cloud_storage.polling import apply_action

#: Upload properties and the gcsfs "fixed key" metadata each one sets.
FIXED_KEYS = {"cache_control": "cache_control", "content_encoding": "content_encoding",
              "content_disposition": "content_disposition", "content_language": "content_language"}


@register_task("gcs_upload", "io.kestra.plugin.gcp.gcs.Upload", group="Cloud storage", title="Upload to GCS", icon="⬆️",
               summary="Upload a file of internal storage (from) to a gs:// URI (to); outputs.<id>.uri, md5 and crc32c.")
class GcsUpload(GcsTask):
    from_: str | list[str] | dict[str, str] = Field(alias="from", description="lanner:/// URI of the file to upload; a list or a map name -> URI uploads several under to.")
    to: str = Field(min_length=1, description="Destination gs:// URI, e.g. gs://my-bucket/sales/2024-05-31.csv (a folder with several files).")
    content_type: str | None = Field(default=None, description="Content-Type of the object, e.g. text/csv.")
    content_encoding: str | None = Field(default=None, description="Content-Encoding of the object.")
    content_disposition: str | None = Field(default=None, description="Content-Disposition of the object.")
    content_language: str | None = Field(default=None, description="Content-Language of the object.")
    cache_control: str | None = Field(default=None, description="Cache-Control of the object.")
    metadata: dict[str, str] | str | None = Field(default=None, description="Lanner: custom metadata stored with the object.")
    validate_checksum: bool | str | None = Field(default=None, description="Compare the MD5 computed while uploading with the one GCS stored (default true).")
    expected_md5: str | None = Field(default=None, description="Base64 MD5 the source must have; the task fails otherwise.")
    expected_crc32c: str | None = Field(default=None, description="Base64 CRC32C the uploaded object must have; the task fails otherwise.")

    def run(self, ctx: RunContext) -> TaskResult:
        bucket, key = split_uri(required(ctx.render, self.to, "to", self.id), "to", self.id)
        files = source_files(ctx, self.from_, self.id)
        options: dict[str, Any] = {"content_type": text(ctx.render, self.content_type),
                                   "metadata": string_map(ctx.render, self.metadata, "metadata", self.id),
                                   "fixed_key_metadata": {gcs: text(ctx.render, getattr(self, name)) for name, gcs in FIXED_KEYS.items()
                                                          if text(ctx.render, getattr(self, name))} or None}
        store = self.store(ctx)
        several = not (isinstance(self.from_, str) and len(files) == 1)
        results: dict[str, Any] = {}
        for name, uri in files.items():
            target = f"{key.rstrip('/')}/{name}" if several else key
            results[name] = self._upload_one(ctx, store, uri, bucket, target, {k: v for k, v in options.items() if v})
        if not several:
            return TaskResult(next(iter(results.values())))
        return TaskResult({"uri": f"gs://{bucket}/{key}", "files": results})

    def _upload_one(self, ctx: RunContext, store: GcsStore, uri: str, bucket: str, key: str, options: dict[str, Any]) -> dict[str, Any]:
        with open_source(ctx, uri, self.id) as source:
            reader = Md5Reader(source)
            size = store.upload(reader, bucket, key, **options)  # type: ignore[arg-type]
        md5 = reader.base64()
        stored = store.stat(bucket, key)
        expected = text(ctx.render, self.expected_md5)
        if expected and expected != md5:
            raise TaskFailed(f"{self.id}: {uri} has MD5 {md5}, not the expected {expected} (expectedMd5)")
        if flag(ctx.render, self.validate_checksum, "validateChecksum", self.id, default=True) and stored.get("md5") not in (None, md5):
            raise TaskFailed(f"{self.id}: GCS stored gs://{bucket}/{key} with MD5 {stored.get('md5')}, not the {md5} sent; upload it again")
        crc = text(ctx.render, self.expected_crc32c)
        if crc and stored.get("crc32c") != crc:
            raise TaskFailed(f"{self.id}: gs://{bucket}/{key} has CRC32C {stored.get('crc32c')}, not the expected {crc} (expectedCrc32c)")
        ctx.logger.info(f"Uploaded {uri} to gs://{bucket}/{key} ({size} bytes)")
        return {k: v for k, v in {"uri": f"gs://{bucket}/{key}", "md5": md5, "crc32c": stored.get("crc32c")}.items() if v}


def download_blob(ctx: RunContext, store: GcsStore, bucket: str, key: str, validate: bool) -> str:
    """Stream one object into internal storage (checking its MD5 against GCS's when asked); its URI."""
    with scratch(ctx) as tmp:
        path = tmp / "object"
        store.download(bucket, key, path)
        if validate:
            stored = store.stat(bucket, key).get("md5")
            with path.open("rb") as handle:
                reader = Md5Reader(handle)
                while reader.read(8 * 1024 * 1024):
                    pass
            if stored and stored != reader.base64():
                raise TaskFailed(f"{store.task}: gs://{bucket}/{key} downloaded with MD5 {reader.base64()}, not GCS's {stored}; download it again")
        return keep(ctx, path, key)


@register_task("gcs_download", "io.kestra.plugin.gcp.gcs.Download", group="Cloud storage", title="Download from GCS", icon="⬇️",
               summary="Download one gs:// object (from) into internal storage as outputs.<id>.uri.")
class GcsDownload(GcsTask):
    from_: str = Field(alias="from", min_length=1, description="The gs:// URI of the object, e.g. gs://my-bucket/sales/2024-05-31.csv.")
    validate_checksum: bool | str | None = Field(default=None, description="Check the downloaded bytes against the MD5 GCS stored (default false).")

    def run(self, ctx: RunContext) -> TaskResult:
        bucket, key = split_uri(required(ctx.render, self.from_, "from", self.id), "from", self.id)
        store = self.store(ctx)
        uri = download_blob(ctx, store, bucket, key, flag(ctx.render, self.validate_checksum, "validateChecksum", self.id))
        ctx.logger.info(f"Downloaded gs://{bucket}/{key}")
        return TaskResult({"bucket": bucket, "path": key, "uri": uri})


@register_task("gcs_list", "io.kestra.plugin.gcp.gcs.List", group="Cloud storage", title="List GCS objects", icon="📋",
               summary="List the objects under a gs:// folder (listingType, regExp, filter) as outputs.<id>.blobs.")
class GcsList(GcsListProperties, GcsTask):
    filter: str | None = Field(default=None, description="FILES, DIRECTORY (folders) or BOTH (default).")
    max_files: int | str | None = Field(default=None, description="At most this many objects in the outputs (default 25).")

    def run(self, ctx: RunContext) -> TaskResult:
        filter_ = choice(ctx.render, self.filter, "filter", self.id, ("FILES", "DIRECTORY", "BOTH"), "BOTH")
        bucket, listing = self.gcs_listing(ctx.render, self.id, filter_)
        blobs = self.store(ctx).list(bucket, listing)
        ctx.logger.debug(f"Found {len(blobs)} blobs in gs://{bucket}/{listing.prefix}")
        return TaskResult({"blobs": limit_files(ctx, blobs, self.max_files, self.id)})


@register_task("gcs_downloads", "io.kestra.plugin.gcp.gcs.Downloads", group="Cloud storage", title="Download many from GCS", icon="📥",
               summary="Download the objects a listing finds into internal storage, then MOVE, DELETE or keep them (action).")
class GcsDownloads(GcsListProperties, GcsTask):
    action: str | None = Field(default=None, description="What to do with the objects once downloaded: MOVE (to moveDirectory), DELETE or NONE (default).")
    move_directory: str | None = Field(default=None, description="MOVE's destination, a gs:// folder, e.g. gs://my-bucket/archive/.")
    max_files: int | str | None = Field(default=None, description="At most this many files (default 25).")
    validate_checksum: bool | str | None = Field(default=None, description="Check each download against the MD5 GCS stored (default false).")

    def run(self, ctx: RunContext) -> TaskResult:
        action = choice(ctx.render, self.action, "action", self.id, ACTIONS, "NONE")
        destination = move_folder(ctx.render, self.move_directory, action, self.id)
        bucket, listing = self.gcs_listing(ctx.render, self.id, "FILES")
        store = self.store(ctx)
        blobs = limit_files(ctx, store.list(bucket, listing), self.max_files, self.id)
        validate = flag(ctx.render, self.validate_checksum, "validateChecksum", self.id)
        downloaded = [{**b, "uri": download_blob(ctx, store, bucket, b["name"], validate)} for b in blobs]
        apply_action(store, bucket, [b["name"] for b in blobs], action, destination)
        ctx.logger.info(f"Downloaded {len(downloaded)} objects from gs://{bucket}/{listing.prefix}"
                        + (f" and applied {action}" if action != "NONE" else ""))
        return TaskResult({"blobs": downloaded, "outputFiles": {b["name"]: b["uri"] for b in downloaded}})


@register_task("gcs_delete", "io.kestra.plugin.gcp.gcs.Delete", group="Cloud storage", title="Delete a GCS object", icon="🗑️",
               summary="Delete one gs:// object (uri); outputs.<id>.deleted says whether it existed.")
class GcsDelete(GcsTask):
    uri: str = Field(min_length=1, description="The gs:// URI of the object to delete.")
    error_on_missing: bool | str | None = Field(default=None, description="Fail when the object does not exist (default false).")

    def run(self, ctx: RunContext) -> TaskResult:
        uri = required(ctx.render, self.uri, "uri", self.id)
        bucket, key = split_uri(uri, "uri", self.id)
        try:
            self.store(ctx).delete(bucket, key)
            deleted = True
        except StorageFailure as exc:
            if exc.reason != "missing" or flag(ctx.render, self.error_on_missing, "errorOnMissing", self.id):
                raise
            deleted = False
        ctx.logger.info(f"Deleted {uri}" if deleted else f"{uri} did not exist: nothing deleted")
        return TaskResult({"uri": f"gs://{bucket}/{key}", "deleted": deleted})


@register_task("gcs_delete_list", "io.kestra.plugin.gcp.gcs.DeleteList", group="Cloud storage", title="Delete GCS objects", icon="🧹",
               summary="Delete every object a listing finds (from, listingType, regExp); outputs.<id>.count and size.")
class GcsDeleteList(GcsListProperties, GcsTask):
    concurrent: int | str | None = Field(default=None, description="Accepted for Kestra flows: objects are deleted one after the other.")
    error_on_empty: bool | str | None = Field(default=None, description="Fail when the listing finds nothing to delete.")

    def run(self, ctx: RunContext) -> TaskResult:
        integer(ctx.render, self.concurrent, "concurrent", self.id, 2, minimum=2)
        bucket, listing = self.gcs_listing(ctx.render, self.id, "FILES")
        store = self.store(ctx)
        blobs = store.list(bucket, listing)
        if not blobs and flag(ctx.render, self.error_on_empty, "errorOnEmpty", self.id):
            raise TaskFailed(f"{self.id}: found no objects to delete in gs://{bucket}/{listing.prefix} (errorOnEmpty is true)")
        for b in blobs:
            ctx.raise_if_killed()
            store.delete(bucket, b["name"])
        size = sum(int(b.get("size") or 0) for b in blobs)
        ctx.logger.info(f"Deleted {len(blobs)} files for {size} bytes")
        return TaskResult({"count": len(blobs), "size": size})


@register_task("gcs_copy", "io.kestra.plugin.gcp.gcs.Copy", group="Cloud storage", title="Copy a GCS object", icon="📑",
               summary="Copy a gs:// object (from -> to) within or across buckets, optionally deleting the source (a move).")
class GcsCopy(GcsTask):
    from_: str = Field(alias="from", min_length=1, description="The gs:// URI of the object to copy.")
    to: str = Field(min_length=1, description="The gs:// URI of the copy.")
    delete: bool | str | None = Field(default=None, description="Delete the source once copied (default false).")

    def run(self, ctx: RunContext) -> TaskResult:
        src_bucket, src_key = split_uri(required(ctx.render, self.from_, "from", self.id), "from", self.id)
        dst_bucket, dst_key = split_uri(required(ctx.render, self.to, "to", self.id), "to", self.id)
        if (src_bucket, src_key) == (dst_bucket, dst_key):
            raise TaskFailed(f"{self.id}: from and to are the same object gs://{src_bucket}/{src_key}; give another destination")
        store = self.store(ctx)
        store.copy(src_bucket, src_key, dst_bucket, dst_key)
        if flag(ctx.render, self.delete, "delete", self.id):
            store.delete(src_bucket, src_key)
        ctx.logger.info(f"Copied gs://{src_bucket}/{src_key} to gs://{dst_bucket}/{dst_key}")
        return TaskResult({"uri": f"gs://{dst_bucket}/{dst_key}"})


@register_task("gcs_create_bucket", "io.kestra.plugin.gcp.gcs.CreateBucket", group="Cloud storage", title="Create a GCS bucket",
               icon="🪣", summary="Create a bucket (location, storage class, labels, versioning); ifExists ERROR, UPDATE or SKIP.")
class GcsCreateBucket(GcsTask):
    name: str = Field(min_length=1, description="Name of the bucket (globally unique).")
    location: str | None = Field(default=None, description="Location, e.g. EU, US, europe-west1.")
    storage_class: str | None = Field(default=None, description="STANDARD, NEARLINE, COLDLINE, ARCHIVE...")
    labels: dict[str, str] | str | None = Field(default=None, description="Labels of the bucket.")
    versioning_enabled: bool | str | None = Field(default=None, description="Keep the previous versions of the objects.")
    requester_pays: bool | str | None = Field(default=None, description="The requester pays for access.")
    default_kms_key_name: str | None = Field(default=None, description="Cloud KMS key new objects are encrypted with.")
    default_event_based_hold: bool | str | None = Field(default=None, description="New objects are under an event-based hold.")
    retention_period: int | str | None = Field(default=None, description="Seconds an object must be kept.")
    index_page: str | None = Field(default=None, description="Static website: the directory index page.")
    not_found_page: str | None = Field(default=None, description="Static website: the 404 page.")
    if_exists: str | None = Field(default=None, description="When the bucket exists: ERROR (default), UPDATE its settings, or SKIP.")

    def body(self, ctx: RunContext) -> dict[str, Any]:
        render = ctx.render
        body: dict[str, Any] = {"location": text(render, self.location), "storageClass": text(render, self.storage_class),
                                "labels": string_map(render, self.labels, "labels", self.id),
                                "encryption": {"defaultKmsKeyName": text(render, self.default_kms_key_name)} if self.default_kms_key_name else None}
        for name, field, key in (("versioning_enabled", "versioningEnabled", "versioning"), ("requester_pays", "requesterPays", "billing")):
            if getattr(self, name) is not None:
                body[key] = {"enabled" if key == "versioning" else "requesterPays": flag(render, getattr(self, name), field, self.id)}
        if self.default_event_based_hold is not None:
            body["defaultEventBasedHold"] = flag(render, self.default_event_based_hold, "defaultEventBasedHold", self.id)
        if self.retention_period is not None:
            body["retentionPolicy"] = {"retentionPeriod": str(integer(render, self.retention_period, "retentionPeriod", self.id, 0))}
        if self.index_page or self.not_found_page:
            body["website"] = {"mainPageSuffix": text(render, self.index_page), "notFoundPage": text(render, self.not_found_page)}
        return {k: v for k, v in body.items() if v is not None}

    def run(self, ctx: RunContext) -> TaskResult:
        bucket = required(ctx.render, self.name, "name", self.id)
        policy = choice(ctx.render, self.if_exists, "ifExists", self.id, ("ERROR", "UPDATE", "SKIP"), "ERROR")
        store = self.store(ctx)
        existing = store.bucket_info(bucket)
        if existing is None:
            info, created, updated = store.put_bucket(bucket, self.body(ctx), update=False), True, False
        elif policy == "ERROR":
            raise TaskFailed(f"{self.id}: bucket {bucket} already exists and ifExists is ERROR; set ifExists to UPDATE or SKIP")
        elif policy == "UPDATE":
            info, created, updated = store.put_bucket(bucket, self.body(ctx), update=True), False, True
        else:
            info, created, updated = existing, False, False
        ctx.logger.info(f"Bucket {bucket} " + ("created" if created else "updated" if updated else "already exists: left as it is"))
        out = {"name": info.get("name"), "location": info.get("location"), "storageClass": info.get("storageClass"),
               "labels": info.get("labels"), "versioningEnabled": (info.get("versioning") or {}).get("enabled"),
               "selfLink": info.get("selfLink"), "createTime": info.get("timeCreated"), "updateTime": info.get("updated")}
        return TaskResult({"bucket": {k: v for k, v in out.items() if v is not None}, "created": created, "updated": updated})
