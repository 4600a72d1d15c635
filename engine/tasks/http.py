"""HTTP tasks: ``http`` (Kestra's Request) and ``http_download`` (Kestra's Download), built on httpx.

Requests go through Lanner's HTTP client (``engine.sdk.exchange``): the SSRF
guard refuses loopback, private and cloud-metadata destinations unless
``LANNER_HTTP_ALLOW`` opens them, each redirect hop is checked, the connection
is pinned to the checked address, and a kill or the task timeout answers at once.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from engine.sdk import (
    CHUNK,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_BODY,
    DEFAULT_READ_TIMEOUT,
    Duration,
    LannerModel,
    RunContext,
    RunnableTask,
    StorageError,
    TaskFailed,
    TaskResult,
    body_reader,
    default_timeouts,
    exchange,
    is_storage_uri,
    parse_http_url,
    register_task,
    storage_for_context,
)

if TYPE_CHECKING:  # imported when a request is made: most runs never make one
    import httpx

# --- the tasks ----------------------------------------------------------------------------------


class HttpTimeouts(LannerModel):
    """Kestra's nested ``options.timeout``."""

    connect_timeout: Duration | None = Field(default=None, description="How long to wait for the connection.")
    read_idle_timeout: Duration | None = Field(default=None, description="How long a read may wait for data.")


class HttpAuth(LannerModel):
    """Kestra's ``options.auth``: HTTP basic authentication or a bearer token (values rendered)."""

    type: Literal["BASIC", "BEARER"] = Field(description="BASIC (username and password) or BEARER (token).")
    username: str | None = Field(default=None, description="BASIC: the user name.")
    password: str | None = Field(default=None, description="BASIC: the password.")
    token: str | None = Field(default=None, description="BEARER: the token sent as `Authorization: Bearer <token>`.")

    @model_validator(mode="after")
    def _complete(self) -> HttpAuth:
        if self.type == "BASIC" and self.username is None:
            raise ValueError("BASIC authentication needs a username (and a password)")
        if self.type == "BEARER" and not self.token:
            raise ValueError("BEARER authentication needs a token")
        return self

    def header(self, render: Callable[[Any], Any]) -> str:
        if self.type == "BEARER":
            return f"Bearer {render(self.token)}"
        return _basic(str(render(self.username)), str(render(self.password or "")))


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class HttpOptions(LannerModel):
    """Client options (Kestra's ``options``)."""

    connect_timeout: Duration | None = Field(default=None, description="How long to wait for the connection (default PT10S).")
    read_timeout: Duration | None = Field(default=None, description="How long a read may wait for data (default PT60S).")
    read_idle_timeout: Duration | None = Field(default=None, description="Alias of readTimeout (Kestra name).")
    timeout: HttpTimeouts | None = Field(default=None, description="Kestra's nested form: connectTimeout, readIdleTimeout.")
    connection_pool_idle_timeout: Duration | None = Field(default=None, description="Accepted for Kestra compatibility; unused.")
    follow_redirects: bool = Field(default=True, description="Follow redirects (at most 10, each destination checked).")
    max_content_length: int | None = Field(default=None, ge=0, description="Largest response body accepted, in bytes.")
    auth: HttpAuth | None = Field(default=None, description="Authentication: {type: BASIC, username, password} or {type: BEARER, token}.")
    basic_auth_user: str | None = Field(default=None, description="User for HTTP basic authentication.")
    basic_auth_password: str | None = Field(default=None, description="Password for HTTP basic authentication.")
    allow_failed: bool | None = Field(default=None, description="Same as the task's allowFailed.")
    default_charset: str | None = Field(default=None, description="Charset used when the response names none (default UTF-8).")


class HttpBase(RunnableTask):
    """Properties and the request loop shared by ``http`` and ``http_download``."""

    uri: str = Field(min_length=1, description="The URL to call (http or https).")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field(
        default="GET", description="HTTP method."
    )
    headers: dict[str, str] | None = Field(default=None, description="Request headers; values are rendered.")
    body: str | dict[str, Any] | list[Any] | None = Field(
        default=None, description="Request body: a string is sent as is; a map or list is sent as JSON."
    )
    form_data: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Form fields, sent URL-encoded (multipart when contentType is multipart/form-data; "
            "a `lanner:///` URI value is then sent as a file)."
        ),
    )
    content_type: str | None = Field(default=None, description="Content-Type of the body (default application/json).")
    options: HttpOptions | None = Field(default=None, description="Timeouts, redirects, size limit, basic authentication.")
    allow_failed: bool = Field(default=False, description="A 4xx/5xx answer ends in SUCCESS with its code instead of failing.")

    # -- request building --

    def _request(self, ctx: RunContext) -> httpx.Request:
        import httpx

        url = parse_http_url(str(ctx.render(self.uri)).strip(), "uri")
        headers = {str(k): str(v) for k, v in (ctx.render(self.headers or {}) or {}).items()}
        opts = self.options or HttpOptions()
        if opts.auth is not None:
            headers.setdefault("Authorization", opts.auth.header(ctx.render))
        elif opts.basic_auth_user is not None:
            user, password = str(ctx.render(opts.basic_auth_user)), str(ctx.render(opts.basic_auth_password or ""))
            headers.setdefault("Authorization", _basic(user, password))
        content_type = str(ctx.render(self.content_type)) if self.content_type else None
        kwargs: dict[str, Any] = {}
        if self.form_data is not None:
            form = ctx.render(self.form_data)
            if not isinstance(form, dict):
                raise TaskFailed(f"formData must render to a map of field name to value, not {type(form).__name__}")
            if content_type and content_type.lower().startswith("multipart/form-data"):
                kwargs["files"] = self._multipart(ctx, form)
            else:
                kwargs["data"] = {str(k): _form_value(v) for k, v in form.items()}
                if content_type:
                    headers.setdefault("Content-Type", content_type)
        elif self.body is not None:
            body = ctx.render(self.body)
            if isinstance(body, (dict, list)):
                kwargs["content"] = json.dumps(body).encode("utf-8")
                headers.setdefault("Content-Type", content_type or "application/json")
            else:
                kwargs["content"] = str(body).encode("utf-8")
                headers.setdefault("Content-Type", content_type or "application/json")
        return httpx.Request(self.method, url, headers=headers, **kwargs)

    def _multipart(self, ctx: RunContext, form: dict[str, Any]) -> list[tuple[str, Any]]:
        parts: list[tuple[str, Any]] = []
        for key, value in form.items():
            if is_storage_uri(value):
                try:
                    data = storage_for_context(ctx).read_bytes(value, namespace=ctx.namespace)
                except StorageError as exc:
                    raise TaskFailed(f"formData.{key}: {exc}") from None
                parts.append((str(key), (value.rsplit("/", 1)[-1], data)))
            else:
                parts.append((str(key), (None, _form_value(value))))
        return parts

    def _timeouts(self) -> Callable[[float | None], httpx.Timeout]:
        opts = self.options or HttpOptions()
        nested = opts.timeout or HttpTimeouts()
        connect = _seconds(opts.connect_timeout or nested.connect_timeout, DEFAULT_CONNECT_TIMEOUT)
        read = _seconds(opts.read_timeout or opts.read_idle_timeout or nested.read_idle_timeout, DEFAULT_READ_TIMEOUT)
        return default_timeouts(connect, read)

    # -- the exchange --

    def _exchange[T](self, ctx: RunContext, consume: Callable[[httpx.Response, threading.Event], T]) -> tuple[httpx.Response, T]:
        """Send the request through Lanner's HTTP client (guarded, hop by hop), hand the response to ``consume``."""
        follow = (self.options or HttpOptions()).follow_redirects
        return exchange(ctx, self._request(ctx), consume, follow_redirects=follow, timeouts=self._timeouts())

    def _check_status(self, response: httpx.Response, outputs: dict[str, Any]) -> None:
        opts = self.options or HttpOptions()
        allowed = self.allow_failed or bool(opts.allow_failed)
        if response.status_code >= 400 and not allowed:
            raise TaskFailed(
                f"{response.request.method} {response.request.url} failed with HTTP {response.status_code} "
                f"{response.reason_phrase}".rstrip(),
                outputs=outputs,
            )


@register_task(
    "http",
    "io.kestra.plugin.core.http.Request",
    "io.kestra.plugin.fs.http.Request",
    "io.kestra.core.tasks.http.Request",
    group="HTTP",
    title="HTTP request",
    icon="🌐",
    summary="Call an HTTP API; the answer's code, headers and body (parsed when JSON) become outputs.",
)
class HttpRequest(HttpBase):
    def run(self, ctx: RunContext) -> TaskResult:
        limit = (self.options.max_content_length if self.options else None) or DEFAULT_MAX_BODY

        response, data = self._exchange(ctx, body_reader(limit, "use http_download to store big answers as files"))
        outputs = {
            "uri": str(response.request.url),
            "code": response.status_code,
            "headers": _headers(response),
            "body": _decode_body(response, data, (self.options.default_charset if self.options else None)),
        }
        self._check_status(response, outputs)
        return TaskResult(outputs)


@register_task(
    "http_download",
    "io.kestra.plugin.core.http.Download",
    "io.kestra.plugin.fs.http.Download",
    group="HTTP",
    title="Download a file",
    icon="⬇️",
    summary="Download a URL into internal storage; outputs.<id>.uri points to the file.",
)
class HttpDownload(HttpBase):
    fail_on_empty_response: bool = Field(default=True, description="Fail when the answer has an empty body.")
    file_name: str | None = Field(default=None, description="Name of the stored file (default: from the answer or the URL).")

    def run(self, ctx: RunContext) -> TaskResult:
        if ctx.put_file is None:
            raise TaskFailed("http_download needs internal storage, which this runner does not provide")
        limit = self.options.max_content_length if self.options else None
        base = Path(ctx.home) / "tmp" if ctx.home is not None else None
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(prefix=f"lanner-dl-{ctx.task_id}-", dir=base))
        target = tmpdir / "body"

        def consume(response: httpx.Response, cancel: threading.Event) -> int:
            size = 0
            with open(target, "wb") as fh:
                for chunk in response.iter_bytes(CHUNK):
                    if cancel.is_set():
                        raise TaskFailed("Killed")
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise TaskFailed(f"The download from {response.request.url} is larger than maxContentLength ({limit} bytes)")
                    fh.write(chunk)
            return size

        try:
            response, length = self._exchange(ctx, consume)
            outputs: dict[str, Any] = {"code": response.status_code, "headers": _headers(response), "length": length}
            self._check_status(response, outputs)
            if length == 0 and self.fail_on_empty_response:
                raise TaskFailed(f"{response.request.url} answered with an empty body (set failOnEmptyResponse: false to accept it)",
                                 outputs=outputs)
            name = _file_name(ctx.render(self.file_name) if self.file_name else None, response)
            outputs["uri"] = ctx.put_file(target, name)
            return TaskResult(outputs)
        finally:
            # ignore_errors: after a kill the abandoned helper thread may still touch the file
            shutil.rmtree(tmpdir, ignore_errors=True)


# --- helpers ------------------------------------------------------------------------------------


def _seconds(value: timedelta | None, default: float) -> float:
    return value.total_seconds() if value is not None else default


def _form_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _headers(response: httpx.Response) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in response.headers.multi_items():
        out.setdefault(key.lower(), []).append(value)
    return out


def _decode_body(response: httpx.Response, data: bytes, default_charset: str | None) -> Any:
    if not data:
        return None
    ctype = response.headers.get("content-type", "").lower()
    charset = response.charset_encoding or default_charset or "utf-8"
    try:
        text = data.decode(charset, errors="replace")
    except LookupError:
        text = data.decode("utf-8", errors="replace")
    mime = ctype.split(";", 1)[0].strip()
    if mime == "application/json" or mime.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _file_name(explicit: str | None, response: httpx.Response) -> str:
    """A single safe path segment for the stored file."""
    name = explicit
    if not name:
        disposition = response.headers.get("content-disposition")
        if disposition:
            msg = Message()
            msg["content-disposition"] = disposition
            name = msg.get_filename()
    if not name:
        name = response.request.url.path.rstrip("/").rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", str(name).replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return name or "download"
