"""S3 connection properties (Kestra's ``AbstractConnection``) and the S3 file system they make.

``region``, ``accessKeyId``, ``secretKeyId``, ``sessionToken``, ``endpointOverride``
(any S3-compatible server: MinIO, Ceph, moto...), ``forcePathStyle`` and the
STS role properties are rendered (``{{ secret('AWS_SECRET_KEY_ID') }}``); the
credentials are masked in logs, outputs and errors, also when a flow writes them
in plain text. Without credentials the SDK's default chain is used (environment,
``~/.aws``, instance role). ``compatibilityMode`` is accepted for Kestra flows and
changes nothing: s3fs speaks plain S3 to every server.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from engine.sdk import Duration, Field, LannerModel, TaskFailed
from lanner_cloud_storage.common import flag, text

CREDENTIAL_FIELDS = "accessKeyId, secretKeyId and sessionToken"
#: Attempts of one S3 request inside a task attempt (botocore's standard retry mode: throttling, 5xx,
#: dropped connections); the task's ``retry`` decides about further attempts.
TASK_REQUEST_ATTEMPTS = 1
#: A trigger polls from the scheduler's thread: one try, short timeouts, the next poll tries again.
TRIGGER_REQUEST_ATTEMPTS = 1


class S3Connection(LannerModel):
    """How to reach S3: the properties every ``io.kestra.plugin.aws.s3.*`` type has."""

    region: str | None = Field(default=None, description="AWS region, e.g. eu-west-1 (an S3-compatible server may need one too).")
    access_key_id: str | None = Field(default=None, description="Access key id, e.g. {{ secret('AWS_ACCESS_KEY_ID') }}; without it the default credentials chain is used.")
    secret_key_id: str | None = Field(default=None, description="Secret access key, e.g. {{ secret('AWS_SECRET_KEY_ID') }}; masked in logs and outputs.")
    session_token: str | None = Field(default=None, description="Session token of temporary credentials; masked in logs and outputs.")
    endpoint_override: str | None = Field(default=None, description="Endpoint of an S3-compatible server, e.g. http://127.0.0.1:9000 (MinIO, Ceph...).")
    force_path_style: bool | str | None = Field(default=None, description="Address buckets as <endpoint>/<bucket> rather than <bucket>.<endpoint>.")
    compatibility_mode: bool | str | None = Field(default=None, description="Accepted for Kestra flows; s3fs always uses the plain S3 client.")
    sts_role_arn: str | None = Field(default=None, description="Role to assume through STS before calling S3.")
    sts_role_external_id: str | None = Field(default=None, description="External id of the role to assume.")
    sts_role_session_name: str | None = Field(default=None, description="Session name of the assumed role (default lanner).")
    sts_role_session_duration: Duration | None = Field(default=None, description="Duration of the assumed role's session (default PT15M).")
    sts_endpoint_override: str | None = Field(default=None, description="Endpoint of the STS service.")


def check_endpoint(url: str, field: str, task: str) -> str:
    """An http(s) URL that is not a link-local address (cloud metadata at 169.254.169.254, like Kestra refuses)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TaskFailed(f"{task}: {field} {url!r} is not an http(s) URL such as https://s3.example.com or http://127.0.0.1:9000")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)}
    except OSError:
        addresses = set()  # unknown host: the call itself says it cannot reach it
    for address in addresses | {parts.hostname}:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            continue
        mapped = getattr(ip, "ipv4_mapped", None) or ip
        if mapped.is_link_local:
            raise TaskFailed(f"{task}: {field} {url!r} points to a link-local address ({address}), "
                             "where cloud instance metadata lives; it is refused")
    return url.rstrip("/")


def s3_filesystem(conn: S3Connection, render: Callable[[Any], Any], hide: Callable[[str], None], *, task: str,
                  attempts: int = TASK_REQUEST_ATTEMPTS, connect_timeout: float = 10.0, read_timeout: float = 60.0,
                  requester_pays: bool = False) -> tuple[Any, str | None]:
    """An s3fs file system for these properties (rendered now) and the endpoint to name in errors."""
    import s3fs

    key = text(render, conn.access_key_id)
    secret = text(render, conn.secret_key_id)
    token = text(render, conn.session_token)
    for value in (key, secret, token):
        if value:
            hide(value)
    if bool(key) != bool(secret):
        missing = "secretKeyId" if key else "accessKeyId"
        raise TaskFailed(f"{task}: {missing} is missing: give both accessKeyId and secretKeyId, or neither (default credentials chain)")
    region = text(render, conn.region)
    endpoint = text(render, conn.endpoint_override)
    if endpoint:
        endpoint = check_endpoint(endpoint, "endpointOverride", task)
    config: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": attempts},
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
    }
    if flag(render, conn.force_path_style, "forcePathStyle", task):
        config["s3"] = {"addressing_style": "path"}
    role = text(render, conn.sts_role_arn)
    if role:
        key, secret, token = _assume_role(conn, render, hide, task=task, role=role, region=region,
                                          credentials=(key, secret, token), config=config)
    fs = s3fs.S3FileSystem(
        key=key, secret=secret, token=token, endpoint_url=endpoint, client_kwargs={"region_name": region} if region else {},
        config_kwargs=config, skip_instance_cache=True, use_listings_cache=False, requester_pays=requester_pays,
    )
    return fs, endpoint or (f"s3.{region}.amazonaws.com" if region else None)


def _assume_role(conn: S3Connection, render: Callable[[Any], Any], hide: Callable[[str], None], *, task: str, role: str,
                 region: str | None, credentials: tuple[str | None, str | None, str | None],
                 config: dict[str, Any]) -> tuple[str, str, str]:
    """Temporary credentials of ``stsRoleArn`` (Kestra's StsAssumeRoleCredentialsProvider)."""
    import botocore.config
    import botocore.session

    from lanner_cloud_storage.errors import storage_errors

    endpoint = text(render, conn.sts_endpoint_override)
    if endpoint:
        endpoint = check_endpoint(endpoint, "stsEndpointOverride", task)
    key, secret, token = credentials
    duration = int(conn.sts_role_session_duration.total_seconds()) if conn.sts_role_session_duration else 900
    params: dict[str, Any] = {"RoleArn": role, "RoleSessionName": text(render, conn.sts_role_session_name) or "lanner",
                              "DurationSeconds": duration}
    external = text(render, conn.sts_role_external_id)
    if external:
        params["ExternalId"] = external
    session = botocore.session.get_session()
    with storage_errors(task=task, provider="STS", action="assuming role", target=role, endpoint=endpoint,
                        credential_fields=CREDENTIAL_FIELDS + " and stsRoleArn"):
        client = session.create_client(
            "sts", region_name=region or "us-east-1", endpoint_url=endpoint, aws_access_key_id=key,
            aws_secret_access_key=secret, aws_session_token=token,
            config=botocore.config.Config(retries=config["retries"], connect_timeout=config["connect_timeout"],
                                          read_timeout=config["read_timeout"]),
        )
        answer = client.assume_role(**params)["Credentials"]
    for value in (answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]):
        hide(value)
    return answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]
