"""S3's side of :class:`~lanner_cloud_storage.objects.ObjectStore`: what s3fs does not say by itself.

The bytes still move through s3fs (its file objects stream multipart uploads);
the calls whose answer Kestra puts in outputs go through s3fs's ``call_s3``
(the same client, session and retries): ``ListObjectsV2`` pages (``maxKeys``
caps the total, ``marker`` is ``StartAfter``), ``GetObject`` (content type,
metadata, version, checksum in the one request that streams the body),
``HeadObject`` after an upload (ETag, version), ``DeleteObject`` and
``CopyObject`` (version id, delete marker, server-side encryption).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lanner_cloud_storage.objects import CHUNK, Listing, ObjectStore, iso
from lanner_cloud_storage.s3_connection import CREDENTIAL_FIELDS

#: S3 answers at most 1,000 keys per page.
PAGE = 1000
CHECKSUMS = ("ChecksumSHA256", "ChecksumSHA1", "ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME")


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def s3_object(entry: dict[str, Any]) -> dict[str, Any]:
    """A listed object as Kestra's ``S3Object``: key, etag, size, lastModified, owner."""
    owner = entry.get("Owner")
    return {
        "key": entry["Key"],
        "etag": entry.get("ETag"),
        "size": entry.get("Size"),
        "lastModified": iso(entry.get("LastModified")),
        "owner": {"id": owner.get("ID"), "displayName": owner.get("DisplayName")} if owner else None,
    }


def checksum(answer: dict[str, Any]) -> tuple[str | None, str | None]:
    for name in CHECKSUMS:
        if answer.get(name):
            return name.removeprefix("Checksum"), answer[name]
    return None, None


class S3Store(ObjectStore):
    provider = "S3"
    scheme = "s3"
    credential_fields = CREDENTIAL_FIELDS

    def _list(self, bucket: str, listing: Listing) -> list[dict[str, Any]]:
        params = _drop_none({
            "Bucket": bucket, "Prefix": listing.prefix or None, "Delimiter": listing.delimiter,
            "StartAfter": listing.marker, "EncodingType": listing.encoding_type,
            "ExpectedBucketOwner": listing.expected_bucket_owner, "RequestPayer": listing.request_payer,
            "MaxKeys": min(listing.max_keys, PAGE),
        })
        found: list[dict[str, Any]] = []
        while True:
            self.check_killed()
            page = self.fs.call_s3("list_objects_v2", **params)
            found.extend(s3_object(entry) for entry in page.get("Contents", []))
            found.extend({"key": p["Prefix"], "size": 0, "directory": True} for p in page.get("CommonPrefixes", []))
            if len(found) >= listing.max_keys or not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                return found[: listing.max_keys]
            params["ContinuationToken"] = page["NextContinuationToken"]

    def get(self, bucket: str, key: str, dest: Path, **params: Any) -> dict[str, Any]:
        """Stream one object (``GetObject``) into ``dest``; its metadata as Kestra's Download outputs."""
        # Imported here, as s3fs is: fsspec reads every installed distribution's entry points when imported,
        # and validating a flow that names an S3 task needs none of it.
        from fsspec.asyn import sync

        with self.guard("downloading", self.url(bucket, key)):
            answer = self.fs.call_s3("get_object", Bucket=bucket, Key=key, **_drop_none(params))
            body = answer["Body"]
            try:
                with dest.open("wb") as out:
                    while True:
                        self.check_killed()
                        chunk = sync(self.fs.loop, body.read, CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
            finally:
                body.close()
        algorithm, value = checksum(answer)
        return _drop_none({
            "eTag": answer.get("ETag"), "versionId": answer.get("VersionId"), "contentLength": answer.get("ContentLength"),
            "contentType": answer.get("ContentType"), "metadata": answer.get("Metadata") or {},
            "lastModified": iso(answer.get("LastModified")), "checksumAlgorithm": algorithm, "checksumValue": value,
        })

    def put(self, source: Any, bucket: str, key: str, **params: Any) -> dict[str, Any]:
        """Upload a stream (multipart above s3fs's block size) and read back its ETag and version."""
        size = self.upload(source, bucket, key, **_drop_none(params))
        with self.guard("reading", self.url(bucket, key)):
            answer = self.fs.call_s3("head_object", Bucket=bucket, Key=key)
        return _drop_none({"eTag": answer.get("ETag"), "versionId": answer.get("VersionId"), "contentLength": size})

    def delete(self, bucket: str, key: str, **params: Any) -> dict[str, Any]:
        with self.guard("deleting", self.url(bucket, key)):
            answer = self.fs.call_s3("delete_object", Bucket=bucket, Key=key, **_drop_none(params))
        return _drop_none({"versionId": answer.get("VersionId"), "deleteMarker": answer.get("DeleteMarker"),
                           "requestCharged": answer.get("RequestCharged")})

    def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, **params: Any) -> dict[str, Any]:
        """``CopyObject`` (with the source's ``versionId`` when given); s3fs's managed copy above 5 GB."""
        version = params.pop("VersionId", None)
        extra = _drop_none(params)
        with self.guard("copying", f"{self.url(src_bucket, src_key)} to {self.url(dst_bucket, dst_key)}"):
            source = _drop_none({"Bucket": src_bucket, "Key": src_key, "VersionId": version})
            if version is None and int(self.fs.info(f"{src_bucket}/{src_key}").get("size") or 0) > 5 * 1024**3:
                self.fs.copy(f"{src_bucket}/{src_key}", f"{dst_bucket}/{dst_key}", **extra)
                answer = self.fs.call_s3("head_object", Bucket=dst_bucket, Key=dst_key)
                return _drop_none({"eTag": answer.get("ETag"), "versionId": answer.get("VersionId")})
            answer = self.fs.call_s3("copy_object", CopySource=source, Bucket=dst_bucket, Key=dst_key, **extra)
        result = answer.get("CopyObjectResult") or {}
        return _drop_none({"eTag": result.get("ETag"), "versionId": answer.get("VersionId")})

    def create_bucket(self, bucket: str, region: str | None, **params: Any) -> dict[str, Any]:
        with self.guard("creating bucket", self.url(bucket)):
            if region and region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": region}
            answer = self.fs.call_s3("create_bucket", Bucket=bucket, **_drop_none(params))
        return {"bucket": bucket, "region": answer.get("Location")}
