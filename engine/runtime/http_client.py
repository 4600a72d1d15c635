"""Lanner's outgoing HTTP client for tasks: the SSRF guard, address pinning, kill and timeout handling.

The ``http`` tasks and plugins (webhook notifications...) send their requests
through :func:`exchange` (or the one-call :func:`http_send`), both exported by
``engine.sdk``, so every outgoing request of a flow obeys the same rules.

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
httpx is imported when a request is made, never when a task type loads.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engine.model.durations import format_duration
from engine.model.task import TaskFailed
from engine.runtime.context import RunContext

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 10
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
#: Largest answer body :func:`http_send` keeps by default.
DEFAULT_MAX_BODY = 10 * 1024 * 1024
CHUNK = 64 * 1024
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

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


# --- the exchange -------------------------------------------------------------------------------

#: Builds the httpx timeouts of one hop from the seconds left before the task's deadline (None: no deadline).
TimeoutsFor = Callable[[float | None], "httpx.Timeout"]


def default_timeouts(connect: float = DEFAULT_CONNECT_TIMEOUT, read: float = DEFAULT_READ_TIMEOUT) -> TimeoutsFor:
    """Fixed connect/read timeouts, shortened to the task's deadline (a little slack so the deadline answers first)."""

    def timeouts(remaining: float | None) -> httpx.Timeout:
        import httpx

        c, r = connect, read
        if remaining is not None:
            c, r = min(c, remaining + 0.25), min(r, remaining + 0.25)
        return httpx.Timeout(connect=c, read=r, write=r, pool=c)

    return timeouts


def exchange[T](
    ctx: RunContext,
    request: httpx.Request,
    consume: Callable[[httpx.Response, threading.Event], T],
    *,
    follow_redirects: bool = True,
    timeouts: TimeoutsFor | None = None,
) -> tuple[httpx.Response, T]:
    """Send ``request`` (following redirects hop by hop, each destination checked), hand the answer to ``consume``.

    ``consume`` reads the streamed response (it must stop when the event is set);
    its value is returned with the response. Failures raise :class:`TaskFailed`
    with one sentence naming the request (``HttpRefused`` for a refused destination).
    """
    import httpx

    from engine.runtime.http_pinned import PinnedTransport

    started = time.monotonic()
    deadline = started + ctx.timeout if ctx.timeout is not None else None
    allow = AllowList.from_context(ctx)
    timeouts = timeouts or default_timeouts()
    cancel = threading.Event()
    clients: list[httpx.Client] = []
    tls: list[ssl.SSLContext] = []  # built once, and only when a hop uses https
    first = request

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
            client = httpx.Client(transport=transport, timeout=timeouts(remaining), follow_redirects=False, trust_env=False)
            clients.append(client)
            if cancel.is_set():
                raise TaskFailed("Killed")
            response = client.send(request, stream=True)
            next_request = getattr(response, "next_request", None)
            if follow_redirects and next_request is not None:
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
        raise TaskFailed(f"Too many redirects (more than {MAX_REDIRECTS}) from {first.url}")

    try:
        response, value = interruptible(ctx, work, deadline, cancel)
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


@dataclass
class HttpAnswer:
    """What :func:`http_send` got back."""

    url: str
    status: int
    reason: str
    headers: dict[str, list[str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def parse_http_url(text: str, field: str) -> httpx.URL:
    """``text`` as an http(s) URL with a host, else :class:`TaskFailed` naming ``field``."""
    import httpx

    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise TaskFailed(f"{field} {text!r} is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise TaskFailed(f"{field} {text!r} must be an http:// or https:// URL with a host")
    return url


def http_send(
    ctx: RunContext,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    follow_redirects: bool = True,
    max_body: int = DEFAULT_MAX_BODY,
) -> HttpAnswer:
    """Send one request through the guard and return the whole answer (at most ``max_body`` bytes).

    Any status is returned: the caller decides what a 4xx/5xx means. A bad URL,
    a refused or unreachable destination, a timeout or a kill raise :class:`TaskFailed`.
    """
    import httpx

    request = httpx.Request(method, parse_http_url(url, "url"), headers=headers or {}, content=content)
    timeouts = default_timeouts(connect_timeout or DEFAULT_CONNECT_TIMEOUT, read_timeout or DEFAULT_READ_TIMEOUT)
    response, body = exchange(ctx, request, body_reader(max_body), follow_redirects=follow_redirects, timeouts=timeouts)
    out_headers: dict[str, list[str]] = {}
    for key, value in response.headers.multi_items():
        out_headers.setdefault(key.lower(), []).append(value)
    return HttpAnswer(str(response.request.url), response.status_code, response.reason_phrase, out_headers, body)


def body_reader(limit: int, hint: str = "") -> Callable[[httpx.Response, threading.Event], bytes]:
    """A ``consume`` for :func:`exchange` that keeps the whole body, failing beyond ``limit`` bytes (``hint`` says what to do)."""

    def consume(response: httpx.Response, cancel: threading.Event) -> bytes:
        data = bytearray()
        for chunk in response.iter_bytes(CHUNK):
            if cancel.is_set():
                raise TaskFailed("Killed")
            data += chunk
            if len(data) > limit:
                raise TaskFailed(f"The response of {response.request.url} is larger than {limit} bytes" + (f"; {hint}" if hint else ""))
        return bytes(data)

    return consume


def interruptible[T](ctx: RunContext, work: Callable[[], T], deadline: float | None = None, cancel: threading.Event | None = None,
                     what: str = "the HTTP request") -> T:
    """Run blocking ``work`` (a socket exchange) in a helper thread; answer at once on kill or when the task's time is up.

    ``deadline`` (``time.monotonic()`` seconds) defaults to the task's ``timeout``;
    ``cancel`` is set when the caller gives up, so ``work`` can stop at its next
    step; ``what`` names the abandoned work in the timeout message.
    """
    cancel = cancel or threading.Event()
    if deadline is None and ctx.timeout is not None:
        deadline = time.monotonic() + ctx.timeout
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
            raise TaskFailed(f"Timed out after {after}: {what} was abandoned")
    if "error" in box:
        raise box["error"]
    return box["value"]
