"""Properties the S3 types share (Kestra's ``AbstractS3Object``, ``ListInterface``, ``ActionInterface``) and
how they become an :class:`~lanner_cloud_storage.s3_store.S3Store` and a
:class:`~lanner_cloud_storage.objects.Listing`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from engine.sdk import Field, LannerModel, RunContext, RunnableTask
from lanner_cloud_storage.common import GROUP, choice, hider, integer, text
from lanner_cloud_storage.objects import Listing
from lanner_cloud_storage.s3_connection import TASK_REQUEST_ATTEMPTS, S3Connection, s3_filesystem
from lanner_cloud_storage.s3_store import S3Store

FILTERS = ("FILES", "DIRECTORY", "BOTH")


class CopyObject(LannerModel):
    """A destination object (Kestra's ``Copy.CopyObject``): ``moveTo`` of a trigger, ``to`` of a copy."""

    bucket: str | None = Field(default=None, description="Bucket (default: the source's bucket).")
    key: str | None = Field(default=None, description="Key (for moveTo: the folder the objects go to).")
    server_side_encryption: str | None = Field(default=None, description="Server-side encryption of the new object: AES256, AWS_KMS (aws:kms), NONE.")
    kms_key_id: str | None = Field(default=None, description="KMS key id when serverSideEncryption is AWS_KMS.")


class CopyObjectFrom(CopyObject):
    """A source object (Kestra's ``Copy.CopyObjectFrom``)."""

    version_id: str | None = Field(default=None, description="Version of the source object to copy.")


def sse_params(render: Callable[[Any], Any], target: CopyObject | None) -> dict[str, Any]:
    """``ServerSideEncryption`` / ``SSEKMSKeyId`` for a copy destination (Kestra's AES256, AWS_KMS, NONE)."""
    if target is None:
        return {}
    sse = (text(render, target.server_side_encryption) or "NONE").upper()
    if sse in ("NONE", ""):
        return {}
    value = {"AWS_KMS": "aws:kms", "AWS_KMS_DSSE": "aws:kms:dsse"}.get(sse, sse)
    params: dict[str, Any] = {"ServerSideEncryption": value}
    kms = text(render, target.kms_key_id)
    if value.startswith("aws:kms") and kms:
        params["SSEKMSKeyId"] = kms
    return params


class S3Task(S3Connection, RunnableTask):
    """An S3 task: connection properties plus the runner's plumbing."""

    group = GROUP

    def store(self, ctx: RunContext) -> S3Store:
        fs, endpoint = s3_filesystem(self, ctx.render, hider(ctx), task=self.id, attempts=TASK_REQUEST_ATTEMPTS)
        return S3Store(fs, task=self.id, endpoint=endpoint, killed=lambda: ctx.killed)


class BucketTask(S3Task):
    """An S3 task on one bucket (Kestra's ``AbstractS3Object``)."""

    bucket: str = Field(min_length=1, description="The bucket, e.g. my-bucket or {{ inputs.bucket }}.")
    request_payer: str | None = Field(default=None, description="requester: the caller pays for a Requester Pays bucket.")


class ListProperties(LannerModel):
    """Which objects to take (Kestra's ``ListInterface``)."""

    prefix: str | None = Field(default=None, description="Only keys that start with this prefix, e.g. sales/2024/.")
    delimiter: str | None = Field(default=None, description="Group keys up to this character (usually /): one level only.")
    marker: str | None = Field(default=None, description="Start listing after this key.")
    encoding_type: str | None = Field(default=None, description="Encoding of the keys in S3's answer (url).")
    max_keys: int | str | None = Field(default=None, description="At most this many keys are listed, over all pages (default 1000).")
    expected_bucket_owner: str | None = Field(default=None, description="Account id the bucket must belong to (else Access Denied).")
    regexp: str | None = Field(default=None, description="Only keys the regular expression matches as a whole, e.g. .*\\.csv.")
    filter: Literal["FILES", "DIRECTORY", "BOTH"] | str | None = Field(default=None, description="FILES, DIRECTORY (keys ending in /) or BOTH (default).")

    def listing(self, render: Callable[[Any], Any], task: str, request_payer: str | None = None,
                default_filter: str = "BOTH") -> Listing:
        return Listing(
            prefix=text(render, self.prefix) or "",
            delimiter=text(render, self.delimiter),
            marker=text(render, self.marker),
            regexp=text(render, self.regexp),
            filter=choice(render, self.filter, "filter", task, FILTERS, default_filter),
            max_keys=integer(render, self.max_keys, "maxKeys", task, 1000, minimum=1),
            encoding_type=text(render, self.encoding_type),
            expected_bucket_owner=text(render, self.expected_bucket_owner),
            request_payer=text(render, request_payer),
        )

