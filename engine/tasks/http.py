"""HTTP tasks: ``http`` (Kestra's Request) and ``http_download`` (Kestra's Download), built on httpx.

Server-side request forgery is refused by default. Before each connection,
the first one and every redirect hop (followed here, at most 10), the host
is resolved and *every* address it resolves to must be a public one: loopback,
private, link-local (cloud metadata at 169.254.169.254), shared, reserved,
unspecified and multicast addresses are refused, also when hidden in IPv6
(IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64). The connection then goes
to the address that was checked (httpcore's network backend is replaced by one
that connects to the pinned IP), while the URL, ``Host`` header and TLS SNI keep
the host name, so a DNS answer that changes between check and connect (DNS
rebinding) cannot redirect it. Proxy environment variables are ignored.

``LANNER_HTTP_ALLOW`` (read at each run; comma separated host names,
``*.suffix`` wildcards, IPs or CIDRs, e.g. ``127.0.0.1,intranet.example``) and a
runner-provided ``ctx.extra["http_allow"]`` open destinations on purpose.

The request runs in a helper thread so a kill or the task timeout answers at
once; the helper ends at its own read/connect timeouts at the latest.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.sdk import (
    SCHEME,
    Duration,
    LannerModel,
    RunContext,
    RunnableTask,
    StorageError,
    TaskFailed,
    TaskResult,
    format_duration,
    register_task,
    storage_for_context,
)

if TYPE_CHECKING:  # imported when a request is made: most runs never make one
    import httpx

MAX_REDIRECTS = 10
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
#: Largest body the ``http`` task keeps in its outputs (use http_download for more).
DEFAULT_MAX_BODY = 10 * 1024 * 1024
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CHUNK = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class HttpRefused(TaskFailed):
    """The destination is not allowed (SSRF protection)."""


# --- SSRF protection ----------------------------------------------------------------------------


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination, or None when it is."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        reason = blocked_reason(inner)
        return f"{reason}, embedded in IPv6" if reason else None
    for attr, label in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local (cloud metadata)"),
        ("is_unspecified", "unspecified"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attr):
            return f"{label} address"
    if not ip.is_global:
        return "non-public address"
    return None


@dataclass(frozen=True)
class AllowList:
    """Destinations opened on purpose: host names (``*.suffix`` too) and IP networks."""

    hosts: frozenset[str]
    suffixes: tuple[str, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts, suffixes, networks = set(), [], []
        for raw in entries:
            entry = raw.strip().lower().strip("[]").rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                suffixes.append(entry[1:])
            else:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    @classmethod
    def from_context(cls, ctx: RunContext) -> AllowList:
        entries = os.environ.get("LANNER_HTTP_ALLOW", "").split(",")
        extra = (ctx.extra or {}).get("http_allow")
        if isinstance(extra, str):
            entries += extra.split(",")
        elif isinstance(extra, Iterable):
            entries += [str(e) for e in extra]
        return cls.parse(entries)

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or any(host.endswith(s) for s in self.suffixes)

    def ip_allowed(self, ip: IPAddress) -> bool:
        candidates = [ip] + ([e] if (e := _embedded_ipv4(ip)) is not None else [])
        return any(c in net for c in candidates for net in self.networks if c.version == net.version)


def resolve_destination(host: str, port: int, allow: AllowList) -> str:
    """Resolve ``host``, refuse non-public addresses not allowed; return the address to connect to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TaskFailed(f"Could not resolve host {host!r}: {exc.strerror or exc}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise TaskFailed(f"Host {host!r} resolved to no address")
    if allow.host_allowed(host):
        return str(addresses[0])
    for ip in addresses:
        reason = blocked_reason(ip)
        if reason and not allow.ip_allowed(ip):
            shown = host if host == str(ip) else f"{host} ({ip})"
            raise HttpRefused(
                f"Refused to connect to {shown}: {reason}; add it to LANNER_HTTP_ALLOW to allow this destination"
            )
    return str(addresses[0])


# --- the tasks ----------------------------------------------------------------------------------


class HttpTimeouts(LannerModel):
    """Kestra's nested ``options.timeout``."""

    connect_timeout: Duration | None = Field(default=None, description="How long to wait for the connection.")
    read_idle_timeout: Duration | None = Field(default=None, description="How long a read may wait for data.")


class HttpOptions(LannerModel):
    """Client options (Kestra's ``options``)."""

    connect_timeout: Duration | None = Field(default=None, description="How long to wait for the connection (default PT10S).")
    read_timeout: Duration | None = Field(default=None, description="How long a read may wait for data (default PT60S).")
    read_idle_timeout: Duration | None = Field(default=None, description="Alias of readTimeout (Kestra name).")
    timeout: HttpTimeouts | None = Field(default=None, description="Kestra's nested form: connectTimeout, readIdleTimeout.")
    connection_pool_idle_timeout: Duration | None = Field(default=None, description="Accepted for Kestra compatibility; unused.")
    follow_redirects: bool = Field(default=True, description="Follow redirects (at most 10, each destination checked).")
    max_content_length: int | None = Field(default=None, ge=0, description="Largest response body accepted, in bytes.")
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

        url_text = str(ctx.render(self.uri)).strip()
        try:
            url = httpx.URL(url_text)
        except httpx.InvalidURL as exc:
            raise TaskFailed(f"uri {url_text!r} is not a valid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise TaskFailed(f"uri {url_text!r} must be an http:// or https:// URL with a host")
        headers = {str(k): str(v) for k, v in (ctx.render(self.headers or {}) or {}).items()}
        opts = self.options or HttpOptions()
        if opts.basic_auth_user is not None:
            user, password = str(ctx.render(opts.basic_auth_user)), str(ctx.render(opts.basic_auth_password or ""))
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            headers.setdefault("Authorization", f"Basic {token}")
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
            if isinstance(value, str) and value.startswith(SCHEME):
                try:
                    data = storage_for_context(ctx).read_bytes(value, namespace=ctx.namespace)
                except StorageError as exc:
                    raise TaskFailed(f"formData.{key}: {exc}") from None
                parts.append((str(key), (value.rsplit("/", 1)[-1], data)))
            else:
                parts.append((str(key), (None, _form_value(value))))
        return parts

    def _timeouts(self, ctx: RunContext, remaining: float | None) -> httpx.Timeout:
        import httpx

        opts = self.options or HttpOptions()
        nested = opts.timeout or HttpTimeouts()
        connect = _seconds(opts.connect_timeout or nested.connect_timeout, DEFAULT_CONNECT_TIMEOUT)
        read = _seconds(opts.read_timeout or opts.read_idle_timeout or nested.read_idle_timeout, DEFAULT_READ_TIMEOUT)
        if remaining is not None:  # a little slack: the task's own deadline should answer first
            connect, read = min(connect, remaining + 0.25), min(read, remaining + 0.25)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    # -- the exchange --

    def _exchange[T](self, ctx: RunContext, consume: Callable[[httpx.Response, threading.Event], T]) -> tuple[httpx.Response, T]:
        import httpx

        from engine.tasks.http_pinned import PinnedTransport

        """Send the request (following redirects hop by hop, each checked), hand the response to ``consume``."""
        started = time.monotonic()
        deadline = started + ctx.timeout if ctx.timeout is not None else None
        request = self._request(ctx)
        allow = AllowList.from_context(ctx)
        follow = (self.options or HttpOptions()).follow_redirects
        cancel = threading.Event()
        clients: list[httpx.Client] = []
        tls: list[ssl.SSLContext] = []  # built once, and only when a hop uses https

        def work() -> tuple[httpx.Response, T]:
            nonlocal request
            for _hop in range(MAX_REDIRECTS + 1):
                url = request.url
                if url.scheme not in ("http", "https"):
                    raise TaskFailed(f"Refused to follow a redirect to {url}: only http and https are allowed")
                ip = resolve_destination(url.host, url.port or (443 if url.scheme == "https" else 80), allow)
                remaining = None if deadline is None else max(0.05, deadline - time.monotonic())
                if url.scheme == "https" and not tls:
                    tls.append(httpx.create_ssl_context(trust_env=False))
                transport = PinnedTransport(url.host, ip, tls[0] if tls else None)
                client = httpx.Client(transport=transport, timeout=self._timeouts(ctx, remaining),
                                      follow_redirects=False, trust_env=False)
                clients.append(client)
                if cancel.is_set():
                    raise TaskFailed("Killed")
                response = client.send(request, stream=True)
                next_request = getattr(response, "next_request", None)
                if follow and next_request is not None:
                    response.close()
                    client.close()
                    ctx.logger.debug(f"{request.method} {url} -> {response.status_code}, redirected to {next_request.url}")
                    request = next_request
                    continue
                try:
                    return response, consume(response, cancel)
                finally:
                    response.close()
                    client.close()
            raise TaskFailed(f"Too many redirects (more than {MAX_REDIRECTS}) from {self.uri}")

        try:
            response, value = _interruptible(ctx, work, deadline, cancel)
        except httpx.TimeoutException as exc:
            if deadline is not None and time.monotonic() >= deadline - 0.1:
                raise TaskFailed(f"Timed out after {format_duration(timedelta(seconds=ctx.timeout or 0))}") from None
            raise TaskFailed(f"{request.method} {request.url} timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise TaskFailed(f"{request.method} {request.url} failed: {type(exc).__name__}: {exc}") from None
        finally:
            for c in clients:
                c.close()
        ctx.logger.info(f"{response.request.method} {response.request.url} -> {response.status_code} "
                        f"in {time.monotonic() - started:.2f}s")
        return response, value

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

        def consume(response: httpx.Response, cancel: threading.Event) -> bytes:
            data = bytearray()
            for chunk in response.iter_bytes(_CHUNK):
                if cancel.is_set():
                    raise TaskFailed("Killed")
                data += chunk
                if len(data) > limit:
                    raise TaskFailed(
                        f"The response of {response.request.url} is larger than {limit} bytes; "
                        "use http_download to store big answers as files"
                    )
            return bytes(data)

        response, data = self._exchange(ctx, consume)
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
                for chunk in response.iter_bytes(_CHUNK):
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


def _interruptible[T](ctx: RunContext, work: Callable[[], T], deadline: float | None, cancel: threading.Event) -> T:
    """Run ``work`` in a helper thread; answer at once on kill or when the task's time is up."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name=f"lanner-http-{ctx.task_id}", daemon=True).start()
    while not done.wait(0.05):
        if ctx.kill_event.is_set():
            cancel.set()
            raise TaskFailed("Killed")
        if deadline is not None and time.monotonic() >= deadline:
            cancel.set()
            after = format_duration(timedelta(seconds=ctx.timeout or 0))
            raise TaskFailed(f"Timed out after {after}: the HTTP request was abandoned")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _seconds(value: timedelta | None, default: float) -> float:
    return value.total_seconds() if value is not None else default


def _form_value(value: Any) -> str:
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
