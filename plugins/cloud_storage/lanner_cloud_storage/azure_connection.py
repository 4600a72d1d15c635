"""Azure Blob connection properties (Kestra's ``AbstractStorageWithSas``) and the adlfs file system they make.

``endpoint`` is the account's blob endpoint (``https://<account>.blob.core.windows.net``,
or Azurite's ``http://127.0.0.1:10000/devstoreaccount1``). Credentials, in
Kestra's order: ``connectionString``; ``sharedKeyAccountName`` with
``sharedKeyAccountAccessKey``; ``sasToken``; else Azure's default credential
chain (environment, managed identity, Azure CLI). The key, the connection string
and the SAS token are masked in logs, outputs and errors.

Each request is tried once (the Azure SDK alone retries a refused connection for
more than a minute); the task's ``retry`` decides about further attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from engine.sdk import Field, LannerModel, TaskFailed
from lanner_cloud_storage.common import text
from lanner_cloud_storage.s3_connection import check_endpoint

CREDENTIAL_FIELDS = "connectionString, sharedKeyAccountName and sharedKeyAccountAccessKey, or sasToken"
ENDPOINT_FIELDS = "endpoint"


class AzureBlobConnection(LannerModel):
    """How to reach Azure Blob Storage: the properties every ``io.kestra.plugin.azure.storage.blob.*`` type has."""

    endpoint: str | None = Field(default=None, description="Blob endpoint of the account, e.g. https://myaccount.blob.core.windows.net.")
    connection_string: str | None = Field(default=None, description="Connection string of the account, e.g. {{ secret('AZURE_STORAGE_CONNECTION_STRING') }}; masked.")
    shared_key_account_name: str | None = Field(default=None, description="Account name, with sharedKeyAccountAccessKey.")
    shared_key_account_access_key: str | None = Field(default=None, description="Account key, e.g. {{ secret('AZURE_STORAGE_KEY') }}; masked in logs and outputs.")
    sas_token: str | None = Field(default=None, description="Shared access signature (with endpoint); masked in logs and outputs.")


def azure_filesystem(conn: AzureBlobConnection, render: Callable[[Any], Any], hide: Callable[[str], None], *,
                     task: str, connect_timeout: float = 10.0, read_timeout: float = 60.0) -> tuple[Any, str | None]:
    """An adlfs file system for these properties (rendered now) and the endpoint to name in errors."""
    endpoint = text(render, conn.endpoint)
    if endpoint:
        endpoint = check_endpoint(endpoint, "endpoint", task)
    connection = text(render, conn.connection_string)
    account = text(render, conn.shared_key_account_name)
    key = text(render, conn.shared_key_account_access_key)
    sas = text(render, conn.sas_token)
    for value in (connection, key, sas):
        if value:
            hide(value)
    if connection:
        for part in connection.split(";"):
            if part.lower().startswith(("accountkey=", "sharedaccesssignature=")):
                hide(part.split("=", 1)[1])
        endpoint = endpoint or _blob_endpoint(connection)
    elif account or key:
        if not (account and key):
            missing = "sharedKeyAccountAccessKey" if account else "sharedKeyAccountName"
            raise TaskFailed(f"{task}: {missing} is missing: give both sharedKeyAccountName and sharedKeyAccountAccessKey")
        endpoint = endpoint or f"https://{account}.blob.core.windows.net"
        connection = f"DefaultEndpointsProtocol={_scheme(endpoint)};AccountName={account};AccountKey={key};BlobEndpoint={endpoint};"
    elif sas:
        if not endpoint:
            raise TaskFailed(f"{task}: endpoint is required with sasToken, e.g. https://myaccount.blob.core.windows.net")
        connection = f"BlobEndpoint={endpoint};SharedAccessSignature={sas.lstrip('?')};"
    elif not endpoint:
        raise TaskFailed(f"{task}: endpoint is required (https://<account>.blob.core.windows.net), or give connectionString")
    fs = _OneTryBlobFileSystem()(connection_string=connection, endpoint=endpoint, skip_instance_cache=True,
                                 use_listings_cache=False, lanner_timeouts=(connect_timeout, read_timeout))
    return fs, endpoint


def _blob_endpoint(connection: str) -> str | None:
    parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
    if parts.get("BlobEndpoint"):
        return parts["BlobEndpoint"].rstrip("/")
    if parts.get("AccountName"):
        return f"{parts.get('DefaultEndpointsProtocol', 'https')}://{parts['AccountName']}.blob.{parts.get('EndpointSuffix', 'core.windows.net')}"
    return None


def _scheme(endpoint: str) -> str:
    return urlsplit(endpoint).scheme or "https"


def _OneTryBlobFileSystem() -> type:  # noqa: N802 - a class factory, so adlfs is imported only when used
    """adlfs's file system whose service client tries each request once, with our timeouts."""
    if _CLASSES:
        return _CLASSES[0]
    from adlfs import AzureBlobFileSystem

    def __init__(self: Any, *args: Any, endpoint: str | None = None, lanner_timeouts: tuple[float, float] = (10.0, 60.0),
                 **kwargs: Any) -> None:
        self.lanner_endpoint = endpoint
        self.lanner_timeouts = lanner_timeouts
        AzureBlobFileSystem.__init__(self, *args, **kwargs)

    def do_connect(self: Any) -> None:
        from azure.identity.aio import DefaultAzureCredential
        from azure.storage.blob.aio import BlobServiceClient

        options = {"retry_total": 0, "connection_timeout": self.lanner_timeouts[0], "read_timeout": self.lanner_timeouts[1]}
        if self.connection_string:
            self.service_client = BlobServiceClient.from_connection_string(self.connection_string, **options)
        else:  # Azure's default credential chain
            self.account_url = self.lanner_endpoint
            self.service_client = BlobServiceClient(self.lanner_endpoint, credential=DefaultAzureCredential(), **options)

    cls = type("OneTryBlobFileSystem", (AzureBlobFileSystem,), {"__init__": __init__, "do_connect": do_connect})
    _CLASSES.append(cls)
    return cls


_CLASSES: list[type] = []
