"""GCS's side of :class:`~lanner_cloud_storage.objects.ObjectStore`: listings and answers as Kestra's ``Blob``.

The bytes move through gcsfs (resumable uploads above its block size); the
listing calls the JSON API's ``objects.list`` through gcsfs's session, so that
``listingType: DIRECTORY`` (one level, folders as prefixes), ``allVersions``
and the total cap are the server's, and each object comes back with what
Kestra's ``Blob`` holds (generation, md5, crc32c, content type, times...).
``regExp`` is matched against the whole ``gs://bucket/name`` URI, like Kestra.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from engine.sdk import TaskFailed
from lanner_cloud_storage.gcs_connection import CREDENTIAL_FIELDS, ENDPOINT_FIELDS
from lanner_cloud_storage.objects import Listing, ObjectStore

#: GCS answers at most 1,000 objects per page.
PAGE = 1000
#: Kestra's ``Blob`` fields and the JSON API's names for them.
BLOB_FIELDS = {
    "generatedId": "id", "selfLink": "selfLink", "cacheControl": "cacheControl", "etag": "etag", "md5": "md5Hash",
    "crc32c": "crc32c", "customTime": "customTime", "mediaLink": "mediaLink", "metadata": "metadata",
    "generation": "generation", "metaGeneration": "metageneration", "updateTime": "updated", "createTime": "timeCreated",
    "deleteTime": "timeDeleted", "contentType": "contentType", "contentEncoding": "contentEncoding",
    "contentDisposition": "contentDisposition", "contentLanguage": "contentLanguage", "storageClass": "storageClass",
    "componentCount": "componentCount", "kmsKeyName": "kmsKeyName", "eventBasedHold": "eventBasedHold",
    "temporaryHold": "temporaryHold",
}


def split_uri(value: str, field: str, task: str, *, key_required: bool = True) -> tuple[str, str]:
    """``gs://bucket/path`` -> (bucket, path); anything else fails in one sentence naming the field."""
    parts = urlsplit(value.replace(" ", "%20"))
    if parts.scheme != "gs" or not parts.netloc:
        raise TaskFailed(f"{task}: {field} {value!r} is not a gs:// URI such as gs://my-bucket/folder/file.csv")
    key = value.split("://", 1)[1].partition("/")[2]
    if key_required and not key.strip("/"):
        raise TaskFailed(f"{task}: {field} {value!r} names no object: give gs://bucket/path/to/object")
    return parts.netloc, key


def blob(entry: dict[str, Any], bucket: str) -> dict[str, Any]:
    """An object of the JSON API as Kestra's ``Blob`` (with ``key``, Lanner's name shared with S3's outputs)."""
    name = entry["name"].split("/", 1)[1] if entry["name"].startswith(bucket + "/") and "bucket" not in entry else entry["name"]
    out: dict[str, Any] = {"uri": f"gs://{bucket}/{name}", "bucket": bucket, "name": name, "key": name,
                           "size": int(entry.get("size") or 0), "isDirectory": name.endswith("/")}
    for ours, theirs in BLOB_FIELDS.items():
        if entry.get(theirs) is not None:
            out[ours] = int(entry[theirs]) if ours in ("generation", "metaGeneration", "componentCount") else entry[theirs]
    out["lastModified"] = out.get("updateTime")
    return out


class GcsStore(ObjectStore):
    provider = "GCS"
    scheme = "gs"
    credential_fields = CREDENTIAL_FIELDS
    endpoint_fields = ENDPOINT_FIELDS

    def regexp_subject(self, bucket: str, key: str) -> str:
        return f"gs://{bucket}/{key}"

    def _list(self, bucket: str, listing: Listing) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"prefix": listing.prefix or None, "delimiter": listing.delimiter,
                                  "startOffset": listing.marker, "versions": "true" if listing.all_versions else None,
                                  "maxResults": min(listing.max_keys, PAGE)}
        found: list[dict[str, Any]] = []
        while True:
            self.check_killed()
            page = self.fs.call("GET", "b/{}/o", bucket, json_out=True, **params)
            found.extend(blob(item, bucket) for item in page.get("items", []))
            found.extend({**blob({"name": prefix}, bucket), "directory": True} for prefix in page.get("prefixes", []))
            if len(found) >= listing.max_keys or not page.get("nextPageToken"):
                return sorted(found, key=lambda o: o["name"])[: listing.max_keys]
            params["pageToken"] = page["nextPageToken"]

    def stat(self, bucket: str, key: str) -> dict[str, Any]:
        """The object's resource (``objects.get``) as Kestra's ``Blob``."""
        with self.guard("reading", self.url(bucket, key)):
            return blob(self.fs.call("GET", "b/{}/o/{}", bucket, key, json_out=True), bucket)

    def bucket_info(self, bucket: str) -> dict[str, Any] | None:
        """The bucket's resource, or None when there is no such bucket."""
        with self.guard("reading bucket", self.url(bucket)):
            try:
                return dict(self.fs.call("GET", "b/{}", bucket, json_out=True))
            except FileNotFoundError:
                return None

    def put_bucket(self, bucket: str, body: dict[str, Any], *, update: bool) -> dict[str, Any]:
        """Create the bucket (``buckets.insert``) or change its settings (``buckets.patch``)."""
        with self.guard("updating bucket" if update else "creating bucket", self.url(bucket)):
            if update:
                return dict(self.fs.call("PATCH", "b/{}", bucket, json=body, json_out=True))
            return dict(self.fs.call("POST", "b", project=self.fs.project, json={**body, "name": bucket}, json_out=True))
