"""One sentence for every way a cloud storage call fails: refused credentials, an endpoint out of reach,
a missing object, anything else.

fsspec implementations translate their SDK's errors into ``PermissionError``,
``FileNotFoundError`` or ``OSError`` and keep the SDK's exception as the cause;
the code (``SignatureDoesNotMatch``, ``NoSuchBucket``...) is read from there.
Connection failures keep the SDK's own classes (``EndpointConnectionError``,
aiohttp's ``ClientConnectorError``, Azure's ``ServiceRequestError``) and are
recognised by name, so this module needs none of the SDKs.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.sdk import TaskFailed

#: Error codes that mean "these credentials are wrong, expired or not allowed".
CREDENTIAL_CODES = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken",
    "TokenRefreshRequired", "AuthorizationHeaderMalformed", "InvalidClientTokenId", "UnrecognizedClientException",
    "AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch", "403", "401", "Forbidden",
}
#: Exception class names that mean "the endpoint could not be reached".
UNREACHABLE_NAMES = {
    "EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ProxyConnectionError",
    "ClientConnectorError", "ClientConnectionError", "ServerDisconnectedError", "ServerTimeoutError",
    "ServiceRequestError", "ServiceResponseError", "FSTimeoutError", "ReadTimeoutError", "TimeoutError",
    "ConnectionRefusedError", "ConnectionResetError", "gaierror",
}
#: Exception class names that mean "no credentials could be found at all".
NO_CREDENTIALS_NAMES = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "DefaultCredentialsError",
                        "CredentialUnavailableError"}
#: Exception class names that mean "the credentials were refused" (a token server said no: GCS's service account).
REFUSED_NAMES = {"RefreshError", "ClientAuthenticationError", "ClientSecretCredentialError"}


class StorageFailure(TaskFailed):
    """A cloud storage call failed; ``reason`` is "credentials", "unreachable", "missing" or "other"."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def error_code(exc: BaseException) -> tuple[str | None, str | None]:
    """The service's error code and message (botocore ``ClientError`` style, or an HTTP status), if any."""
    for item in _chain(exc):
        response: Any = getattr(item, "response", None)
        if isinstance(response, dict):
            error = response.get("Error") or {}
            code = error.get("Code")
            if code:
                return str(code), error.get("Message") or None
        status = getattr(item, "status_code", None) or getattr(item, "code", None)
        if isinstance(status, int) and 400 <= status < 600:
            named = getattr(item, "error_code", None)  # Azure's AuthorizationFailure, BlobNotFound...
            message = getattr(item, "message", None) or str(item) or None
            return str(getattr(named, "value", named) or status), (str(message).splitlines()[0] if message else None)
    return None, None


def classify(exc: BaseException) -> str:
    """``no-credentials``, ``credentials``, ``unreachable``, ``missing`` or ``other``."""
    names = {type(item).__name__ for item in _chain(exc)}
    if names & NO_CREDENTIALS_NAMES:
        return "no-credentials"
    if names & UNREACHABLE_NAMES:
        return "unreachable"
    code, _ = error_code(exc)
    if (code in CREDENTIAL_CODES or names & REFUSED_NAMES or any(isinstance(item, PermissionError) for item in _chain(exc))
            or any(type(item) is OSError and str(item).startswith("Forbidden") for item in _chain(exc))):  # gcsfs's 403
        return "credentials"
    if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound", "ContainerNotFound", "BlobNotFound"):
        return "missing"
    if any(isinstance(item, FileNotFoundError) for item in _chain(exc)):
        return "missing"
    for item in _chain(exc):
        if isinstance(item, OSError) and item.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT):
            return "unreachable"
    return "other"


def _detail(exc: BaseException) -> str:
    code, message = error_code(exc)
    text = (message or str(exc) or type(exc).__name__).strip().rstrip(".")
    text = " ".join(text.split()).replace(". ", "; ")  # the SDK's sentences become clauses of ours
    if len(text) > 300:
        text = text[:297] + "..."
    if code and not code.isdigit() and code not in text:
        return f"{code}: {text}"
    return text


def describe(exc: BaseException, *, task: str, provider: str, action: str, target: str, endpoint: str | None,
             credential_fields: str, endpoint_fields: str = "endpointOverride, region") -> StorageFailure:
    """The one sentence a user reads when ``action`` on ``target`` failed."""
    if isinstance(exc, StorageFailure):
        return exc
    reason = classify(exc)
    where = f" at {endpoint}" if endpoint else ""
    if reason == "no-credentials":
        message = (f"{task}: found no {provider} credentials while {action} {target} ({_detail(exc)}); "
                   f"set {credential_fields}, or give the environment its own credentials")
        reason = "credentials"
    elif reason == "credentials":
        message = (f"{task}: {provider}{where} refused the credentials while {action} {target} ({_detail(exc)}); "
                   f"check {credential_fields} and what they are allowed to do")
    elif reason == "unreachable":
        place = f"the {provider} endpoint {endpoint}" if endpoint else f"{provider}"
        message = (f"{task}: cannot reach {place} while {action} {target} ({_detail(exc)}); "
                   f"check {endpoint_fields} and the network, or retry later")
    elif reason == "missing":
        message = f"{task}: {target} does not exist ({_detail(exc)}) while {action} it"
    else:
        message = f"{task}: {provider}{where} failed while {action} {target}: {type(exc).__name__}: {_detail(exc)}"
    return StorageFailure(message, reason)


@contextmanager
def storage_errors(*, task: str, provider: str, action: str, target: str, endpoint: str | None,
                   credential_fields: str, endpoint_fields: str = "endpointOverride, region") -> Iterator[None]:
    """Turn any failure inside the block into a :class:`StorageFailure` (a ``TaskFailed``) with one sentence."""
    try:
        yield
    except TaskFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - every SDK error becomes a sentence; the attempt fails with it
        raise describe(exc, task=task, provider=provider, action=action, target=target, endpoint=endpoint,
                       credential_fields=credential_fields, endpoint_fields=endpoint_fields) from None
