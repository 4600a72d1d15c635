"""Kestra's ``io.kestra.plugin.aws.s3.Delete``, ``DeleteList``, ``Copy`` and ``CreateBucket``."""

from __future__ import annotations

from typing import Any

from engine.sdk import Field, RunContext, TaskFailed, TaskResult, register_task
from lanner_cloud_storage.common import flag, integer, required, text
from lanner_cloud_storage.s3_base import (
    BucketTask,
    CopyObject,
    CopyObjectFrom,
    ListProperties,
    S3Task,
    sse_params,
)

#: Keys per DeleteObjects request (S3's maximum).
DELETE_BATCH = 1000


@register_task("s3_delete", "io.kestra.plugin.aws.s3.Delete", group="Cloud storage", title="Delete an S3 object", icon="🗑️",
               summary="Delete one object (key) of a bucket; outputs.<id>.versionId and deleteMarker on versioned buckets.")
class S3Delete(BucketTask):
    key: str = Field(min_length=1, description="Key of the object to delete.")
    version_id: str | None = Field(default=None, description="Version to delete (versioned buckets).")
    bypass_governance_retention: bool | str | None = Field(default=None, description="Bypass Object Lock governance-mode retention.")
    mfa: str | None = Field(default=None, description="Serial number and code of the MFA device, for MFA-delete buckets.")

    def run(self, ctx: RunContext) -> TaskResult:
        bucket = required(ctx.render, self.bucket, "bucket", self.id)
        key = required(ctx.render, self.key, "key", self.id)
        store = self.store(ctx)
        bypass = flag(ctx.render, self.bypass_governance_retention, "bypassGovernanceRetention", self.id) if self.bypass_governance_retention is not None else None
        answer = store.delete(bucket, key, VersionId=text(ctx.render, self.version_id), MFA=text(ctx.render, self.mfa),
                              RequestPayer=text(ctx.render, self.request_payer), BypassGovernanceRetention=bypass)
        ctx.logger.info(f"Deleted {store.url(bucket, key)}")
        return TaskResult(answer)


@register_task("s3_delete_list", "io.kestra.plugin.aws.s3.DeleteList", group="Cloud storage", title="Delete S3 objects", icon="🧹",
               summary="Delete every object a listing finds (prefix, regexp); outputs.<id>.count and size.")
class S3DeleteList(ListProperties, BucketTask):
    concurrent: int | str | None = Field(default=None, description="Accepted for Kestra flows: keys are deleted 1,000 per request.")
    error_on_empty: bool | str | None = Field(default=None, description="Fail when the listing finds nothing to delete.")

    def run(self, ctx: RunContext) -> TaskResult:
        bucket = required(ctx.render, self.bucket, "bucket", self.id)
        integer(ctx.render, self.concurrent, "concurrent", self.id, 2, minimum=2)
        store = self.store(ctx)
        listing = self.listing(ctx.render, self.id, self.request_payer)
        objects = store.list(bucket, listing)
        if not objects and flag(ctx.render, self.error_on_empty, "errorOnEmpty", self.id):
            raise TaskFailed(f"{self.id}: found no objects to delete in {store.url(bucket, listing.prefix)}"
                             + (f" matching regexp {listing.regexp!r}" if listing.regexp else "") + " (errorOnEmpty is true)")
        payer = text(ctx.render, self.request_payer)
        for start in range(0, len(objects), DELETE_BATCH):
            ctx.raise_if_killed()
            batch = objects[start:start + DELETE_BATCH]
            with store.guard("deleting objects of", store.url(bucket, listing.prefix)):
                answer = store.fs.call_s3("delete_objects", Bucket=bucket,
                                          Delete={"Objects": [{"Key": o["key"]} for o in batch], "Quiet": True},
                                          **({"RequestPayer": payer} if payer else {}))
            failed = answer.get("Errors") or []
            if failed:
                first = failed[0]
                raise TaskFailed(f"{self.id}: S3 did not delete {len(failed)} of {len(batch)} objects, e.g. "
                                 f"{first.get('Key')} ({first.get('Code')}: {first.get('Message')})")
        size = sum(int(o.get("size") or 0) for o in objects)
        ctx.logger.info(f"Deleted {len(objects)} keys for {size} bytes")
        return TaskResult({"count": len(objects), "size": size})


@register_task("s3_copy", "io.kestra.plugin.aws.s3.Copy", group="Cloud storage", title="Copy an S3 object", icon="📑",
               summary="Copy an object within or across buckets (from -> to), optionally deleting the source (a move).")
class S3Copy(S3Task):
    from_: CopyObjectFrom = Field(alias="from", description="Source: bucket, key and optionally versionId.")
    to: CopyObject | None = Field(default=None, description="Destination: bucket and key (each defaults to the source's), serverSideEncryption, kmsKeyId.")
    delete: bool | str | None = Field(default=None, description="Delete the source once copied (default false).")

    def run(self, ctx: RunContext) -> TaskResult:
        src_bucket = required(ctx.render, self.from_.bucket, "from.bucket", self.id)
        src_key = required(ctx.render, self.from_.key, "from.key", self.id)
        to = self.to or CopyObject()
        dst_bucket = text(ctx.render, to.bucket) or src_bucket
        dst_key = text(ctx.render, to.key) or src_key
        if (dst_bucket, dst_key) == (src_bucket, src_key) and flag(ctx.render, self.delete, "delete", self.id):
            raise TaskFailed(f"{self.id}: from and to are the same object and delete is true: the object would be lost")
        store = self.store(ctx)
        params: dict[str, Any] = {"VersionId": text(ctx.render, self.from_.version_id), **sse_params(ctx.render, to)}
        answer = store.copy(src_bucket, src_key, dst_bucket, dst_key, **params)
        if flag(ctx.render, self.delete, "delete", self.id):
            store.delete(src_bucket, src_key)
        ctx.logger.info(f"Copied {store.url(src_bucket, src_key)} to {store.url(dst_bucket, dst_key)}")
        return TaskResult({"bucket": dst_bucket, "key": dst_key, **answer})


@register_task("s3_create_bucket", "io.kestra.plugin.aws.s3.CreateBucket", group="Cloud storage", title="Create an S3 bucket",
               icon="🪣", summary="Create a bucket in the region (ACL, grants, Object Lock); outputs.<id>.bucket and region.")
class S3CreateBucket(S3Task):
    bucket: str = Field(min_length=1, description="Name of the new bucket.")
    acl: str | None = Field(default=None, description="Canned ACL: private, public-read, public-read-write, authenticated-read.")
    grant_full_control: str | None = Field(default=None, description="Grantees with every permission on the bucket.")
    grant_read: str | None = Field(default=None, description="Grantees that may list the objects.")
    grant_read_acp: str | None = Field(default=None, alias="grantReadACP", description="Grantees that may read the bucket's ACL.")
    grant_write: str | None = Field(default=None, description="Grantees that may create, overwrite and delete objects.")
    grant_write_acp: str | None = Field(default=None, alias="grantWriteACP", description="Grantees that may write the bucket's ACL.")
    object_lock_enabled_for_bucket: bool | str | None = Field(default=None, description="Enable S3 Object Lock on the new bucket.")

    def run(self, ctx: RunContext) -> TaskResult:
        bucket = required(ctx.render, self.bucket, "bucket", self.id)
        store = self.store(ctx)
        params: dict[str, Any] = {
            "ACL": text(ctx.render, self.acl), "GrantFullControl": text(ctx.render, self.grant_full_control),
            "GrantRead": text(ctx.render, self.grant_read), "GrantReadACP": text(ctx.render, self.grant_read_acp),
            "GrantWrite": text(ctx.render, self.grant_write), "GrantWriteACP": text(ctx.render, self.grant_write_acp),
        }
        if self.object_lock_enabled_for_bucket is not None:
            params["ObjectLockEnabledForBucket"] = flag(ctx.render, self.object_lock_enabled_for_bucket, "objectLockEnabledForBucket", self.id)
        answer = store.create_bucket(bucket, text(ctx.render, self.region), **params)
        ctx.logger.info(f"Created bucket {bucket}")
        return TaskResult(answer)
