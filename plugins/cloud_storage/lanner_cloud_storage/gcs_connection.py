"""GCS connection properties (Kestra's ``AbstractTask`` of plugin-gcp) and the gcsfs file system they make.

``serviceAccount`` is the service account key as JSON text (usually
``{{ secret('GCP_SERVICE_ACCOUNT') }}``); without it Google's default
credentials are used (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's, the
instance's). ``projectId`` defaults to the key's project. ``scopes`` default to
cloud-platform. ``endpointOverride`` (Lanner's, Kestra has none) or the
``STORAGE_EMULATOR_HOST`` environment variable points the tasks at a GCS
emulator (gcp-storage-emulator, fake-gcs-server); without a service account it is
reached anonymously. The key is masked in logs, outputs and errors.

gcsfs's plain ``GCSFileSystem`` is used (not its experimental "extended" one,
which asks a gRPC service for each bucket's type first). Each request is tried
once, except a 429 or a 5xx answer, tried three times; the task's ``retry``
decides about further attempts (gcsfs alone would try six times, 30 s or more
for an endpoint out of reach).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Callable
from typing import Any

from engine.sdk import Field, LannerModel, TaskFailed
from lanner_cloud_storage.common import text
from lanner_cloud_storage.s3_connection import check_endpoint

CREDENTIAL_FIELDS = "serviceAccount, projectId and scopes"
ENDPOINT_FIELDS = "endpointOverride (or STORAGE_EMULATOR_HOST)"
DEFAULT_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
#: Tries of one request answered 429 or 5xx (GCS's advice: retry those with backoff).
BUSY_TRIES = 3


class GcsConnection(LannerModel):
    """How to reach GCS: the properties every ``io.kestra.plugin.gcp.gcs.*`` type has."""

    project_id: str | None = Field(default=None, description="Google Cloud project id (default: the service account's).")
    service_account: str | None = Field(default=None, description="Service account key as JSON text, e.g. {{ secret('GCP_SERVICE_ACCOUNT') }}; without it the default credentials are used. Masked in logs and outputs.")
    impersonated_service_account: str | None = Field(default=None, description="Not supported: give the impersonated account's own key as serviceAccount.")
    scopes: list[str] | str | None = Field(default=None, description="OAuth scopes (default https://www.googleapis.com/auth/cloud-platform).")
    endpoint_override: str | None = Field(default=None, description="Lanner: endpoint of a GCS emulator, e.g. http://127.0.0.1:4443 (or the STORAGE_EMULATOR_HOST variable).")


def gcs_filesystem(conn: GcsConnection, render: Callable[[Any], Any], hide: Callable[[str], None], *, task: str,
                   requester_pays: bool = False) -> tuple[Any, str | None]:
    """A gcsfs file system for these properties (rendered now) and the endpoint to name in errors."""
    from gcsfs.core import GCSFileSystem

    if text(render, conn.impersonated_service_account):
        raise TaskFailed(f"{task}: impersonatedServiceAccount is not supported; give that account's key as serviceAccount")
    key_text = text(render, conn.service_account)
    project = text(render, conn.project_id)
    token: Any = None
    if key_text:
        hide(key_text)
        token, key_project = _service_account(key_text, _scopes(render, conn.scopes), hide, task)
        project = project or key_project
    endpoint = text(render, conn.endpoint_override) or os.environ.get("STORAGE_EMULATOR_HOST") or None
    if endpoint:
        endpoint = check_endpoint(endpoint if "://" in endpoint else f"http://{endpoint}", "endpointOverride", task)
        token = token or "anon"  # an emulator takes no credentials
    fs = _OneTryGCSFileSystem(GCSFileSystem)(
        project=project or "lanner", token=token, endpoint_url=endpoint, requester_pays=requester_pays,
        skip_instance_cache=True, use_listings_cache=False, requests_timeout=60,
    )
    return fs, endpoint or "storage.googleapis.com"


def _scopes(render: Callable[[Any], Any], value: Any) -> list[str]:
    rendered = render(value) if value is not None else None
    if isinstance(rendered, str):
        rendered = json.loads(rendered) if rendered.strip().startswith("[") else [rendered]
    return [str(s) for s in rendered] if rendered else DEFAULT_SCOPES


def _service_account(key_text: str, scopes: list[str], hide: Callable[[str], None], task: str) -> tuple[Any, str | None]:
    """Credentials of a service account key (JSON text); a text that is no such key fails in one sentence."""
    from google.oauth2 import service_account

    try:
        info = json.loads(key_text)
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
        for field in ("private_key", "private_key_id"):
            if info.get(field):
                hide(str(info[field]))
        credentials = service_account.Credentials.from_service_account_info(info, scopes=scopes)
    except (ValueError, KeyError, TypeError) as exc:
        reason = exc.args[0] if isinstance(exc, ValueError) and exc.args and "JSON" not in str(exc.args[0]) else "not a service account key"
        if isinstance(exc, json.JSONDecodeError):
            reason = "not valid JSON"
        raise TaskFailed(f"{task}: serviceAccount is not a service account key ({reason}); give the JSON key file's "
                         "content, e.g. {{ secret('GCP_SERVICE_ACCOUNT') }}") from None
    return credentials, info.get("project_id")


def _OneTryGCSFileSystem(base: type) -> type:  # noqa: N802 - a class factory, so gcsfs is imported only when used
    """gcsfs's file system whose requests are tried once (BUSY_TRIES for 429 / 5xx), not six times."""
    cached = _CLASSES.get(base)
    if cached is not None:
        return cached
    unwrapped = base._request.__wrapped__

    async def _request(self: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        from gcsfs.retry import HttpError

        for attempt in range(BUSY_TRIES):
            try:
                return await unwrapped(self, method, path, *args, **kwargs)
            except HttpError as exc:
                busy = exc.code == 429 or (isinstance(exc.code, int) and exc.code >= 500)
                if not busy or attempt == BUSY_TRIES - 1:
                    raise
                await asyncio.sleep(0.5 * 2**attempt + random.random() / 4)
        raise AssertionError("unreachable")

    cls = type("OneTryGCSFileSystem", (base,), {"_request": _request, "__doc__": _OneTryGCSFileSystem.__doc__})
    _CLASSES[base] = cls
    return cls


_CLASSES: dict[type, type] = {}
