"""Properties the GCS types share (Kestra's ``AbstractGcs``, ``ListInterface``, ``ActionInterface``) and how they
become a :class:`~lanner_cloud_storage.gcs_store.GcsStore` and a :class:`~lanner_cloud_storage.objects.Listing`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import IO, Any

from engine.sdk import Field, LannerModel, RunContext, RunnableTask, TaskFailed
from lanner_cloud_storage.common import GROUP, choice, flag, hider, required, text
from lanner_cloud_storage.gcs_connection import GcsConnection, gcs_filesystem
from lanner_cloud_storage.gcs_store import GcsStore, split_uri
from lanner_cloud_storage.objects import Listing

LISTING_TYPES = ("DIRECTORY", "RECURSIVE")


class GcsTask(GcsConnection, RunnableTask):
    """A GCS task: connection properties plus the runner's plumbing."""

    group = GROUP

    def store(self, ctx: RunContext) -> GcsStore:
        fs, endpoint = gcs_filesystem(self, ctx.render, hider(ctx), task=self.id)
        return GcsStore(fs, task=self.id, endpoint=endpoint, killed=lambda: ctx.killed)


class GcsListProperties(LannerModel):
    """Which objects to take (Kestra's GCS ``ListInterface``)."""

    from_: str = Field(alias="from", min_length=1, description="The gs:// folder (prefix) to list, e.g. gs://my-bucket/sales/.")
    listing_type: str | None = Field(default=None, description="DIRECTORY (default: this level only, folders included) or RECURSIVE (every object below).")
    reg_exp: str | None = Field(default=None, description="Only objects whose whole gs://bucket/name URI the regular expression matches, e.g. .*\\.csv.")
    all_versions: bool | str | None = Field(default=None, description="List every version of the objects (versioned buckets).")

    def gcs_listing(self, render: Callable[[Any], Any], task: str, filter: str = "BOTH") -> tuple[str, Listing]:
        """(bucket, listing) of ``from``: its path is the prefix; DIRECTORY lists one level (delimiter /)."""
        bucket, prefix = split_uri(required(render, self.from_, "from", task), "from", task, key_required=False)
        kind = choice(render, self.listing_type, "listingType", task, LISTING_TYPES, "DIRECTORY")
        return bucket, Listing(prefix=prefix, delimiter="/" if kind == "DIRECTORY" else None, regexp=text(render, self.reg_exp),
                               filter=filter, max_keys=100_000,
                               all_versions=flag(render, self.all_versions, "allVersions", task))


def move_folder(render: Callable[[Any], Any], move_directory: Any, action: str, task: str) -> tuple[str, str] | None:
    """MOVE's (bucket, folder) from ``moveDirectory`` (a gs:// URI)."""
    if action != "MOVE":
        return None
    folder = text(render, move_directory)
    if folder is None:
        raise TaskFailed(f"{task}: action MOVE needs moveDirectory, the gs:// folder the objects go to")
    return split_uri(folder, "moveDirectory", task, key_required=False)


class Md5Reader:
    """A binary stream that computes the MD5 (base64, as GCS gives it) of what is read through it."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self.digest = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.digest.update(chunk)
        return chunk

    def base64(self) -> str:
        import base64

        return base64.b64encode(self.digest.digest()).decode()
