"""Cross-site requests and DNS rebinding: which requests the server takes, by Host, Origin and content type.

A web page the user opens must not be able to use the server through the
user's browser, whether or not auth is on (a browser attaches saved basic
credentials by itself). Three checks, in this order, on every HTTP request and
websocket handshake:

* **Host** names a server this one answers to: ``localhost``, ``127.0.0.1``,
  ``[::1]`` (and any loopback address), the bind address, and the names of
  ``--allowed-hosts`` (``*.example.com`` wildcards; ``*`` turns the check
  off, for a proxy that checks it). An IP literal is accepted too when the
  server is bound to every interface (0.0.0.0/::): DNS rebinding needs a
  *name*, since the browser sends the name it resolved. Anything else is
  refused with 403, so a rebinding page (evil.example resolving to
  127.0.0.1) reads nothing.
* **Origin**: a POST/PUT/PATCH/DELETE or a websocket handshake that a
  browser sends from another site is refused with 403. The browser says so
  itself with ``Sec-Fetch-Site`` (``cross-site``/``same-site`` refused,
  ``same-origin``/``none`` accepted); else ``Origin`` (else ``Referer``)
  must be this server: the same host and port as ``Host``, a loopback origin
  on the same port, or one of the ``--allowed-hosts`` names (any port: a
  TLS proxy in front). ``Origin: null`` is foreign. Requests with none of
  these headers are not from a browser page (curl, scripts, the Jupyter
  client) and are let through.
* **Content type**: a POST may not carry the types a page can send without
  the browser asking the server first (``text/plain``,
  ``application/x-www-form-urlencoded``), and ``multipart/form-data`` only
  where files are uploaded (starting or resuming an execution, namespace
  files); 415 otherwise. Each route also accepts only its own types (YAML or
  JSON for flows, JSON or multipart for inputs).

Webhook URLs skip the Origin and content-type checks: they are meant to be
called from anywhere, with any body, and carry their own key. The Host check
applies to them too.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from engine.api.security import is_webhook

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
#: Content types a page may POST cross-site without a CORS preflight (the "simple" ones).
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
#: Routes that take file uploads (multipart/form-data).
_UPLOAD = re.compile(r"/api/v1/(?:executions/[^/]+/(?!(?:kill|restart|replay|labels|file)$)[^/]+|namespaces/[^/]+/files)")


def parse_hosts(spec: str | Iterable[str] | None) -> list[str]:
    """``"a.example, *.corp.example"`` (or a list) -> normalised host patterns; empty entries dropped."""
    if not spec:
        return []
    items = spec.split(",") if isinstance(spec, str) else [str(s) for s in spec]
    out = []
    for item in items:
        name = item.strip().lower().rstrip(".")
        if not name:
            continue
        if name != "*" and ("/" in name or " " in name or name.count("*") > 1 or ("*" in name and not name.startswith("*."))):
            raise ValueError(f"allowed host {item.strip()!r}: expected a host name, an IP address, *.domain or *")
        out.append(name.strip("[]"))
    return out


def split_host(value: str) -> tuple[str, str | None]:
    """``"Name.Example.:8080"`` -> ``("name.example", "8080")``; ``"[::1]:80"`` -> ``("::1", "80")``."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        return host, port or None
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host.rstrip("."), port or None
    return value.rstrip("."), None  # a bare name, or an IPv6 address without brackets


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class HostPolicy:
    """The host names this server answers to."""

    def __init__(self, allowed: Iterable[str] = (), bind: str = "127.0.0.1"):
        self.configured = [h for h in allowed if h != "*"]
        self.any = "*" in allowed
        self.bind = bind.strip("[]").lower()
        self.any_ip = self.bind in WILDCARD_BINDS

    def _configured(self, host: str) -> bool:
        for pattern in self.configured:
            if pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:])):
                return True
        return False

    def is_local(self, host: str) -> bool:
        ip = _ip(host)
        return host in LOOPBACK_NAMES or (ip is not None and ip.is_loopback)

    def answers_to(self, host: str) -> bool:
        if self.any or self.is_local(host) or host == self.bind or self._configured(host):
            return True
        return self.any_ip and _ip(host) is not None

    def same_server(self, origin: str, host_header: str | None) -> bool:
        """Is ``origin`` (``scheme://host[:port]``) a page of this server, as reached through ``host_header``?"""
        try:
            parts = urlsplit(origin)
            o_host, o_port = (parts.hostname or "").rstrip("."), parts.port
        except ValueError:
            return False
        if not o_host or parts.scheme not in ("http", "https"):
            return False
        o_port = o_port or (443 if parts.scheme == "https" else 80)
        if self._configured(o_host):
            return True  # a name given for this server: a TLS proxy in front may use another port
        if host_header is None:
            return False
        h_host, h_port = split_host(host_header)
        try:
            port = int(h_port) if h_port else 80
        except ValueError:
            return False
        if o_port != port:
            return False
        return o_host == h_host or (self.is_local(o_host) and self.is_local(h_host))


class RequestGuardMiddleware:
    """Host, Origin and content-type checks (see the module docstring); runs outside auth."""

    def __init__(self, app: ASGIApp, policy: HostPolicy | None = None):
        self.app = app
        self.policy = policy or HostPolicy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host_header = headers.get("host")
        refusal = self._check(kind, scope.get("method", "GET"), scope.get("path", ""), headers, host_header)
        if refusal is None:
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await _refuse_websocket(scope, send, refusal)
        else:
            await _respond(send, *refusal)

    def _check(self, kind: str, method: str, path: str, headers: dict[str, str], host_header: str | None) -> tuple[int, str] | None:
        if host_header is not None and not self.policy.any:
            host, _ = split_host(host_header)
            if not self.policy.answers_to(host):
                return 403, (f"this server does not answer to the host name '{host[:100]}'; add it to --allowed-hosts "
                             "(LANNER_ALLOWED_HOSTS) if it is one of its names")
        if is_webhook(path) or (kind == "http" and method.upper() not in UNSAFE_METHODS):
            return None
        foreign = self._foreign(headers, host_header)
        if foreign:
            what = "websocket connection" if kind == "websocket" else f"{method.upper()} request"
            return 403, f"cross-site {what} refused ({foreign}): use the UI or the API from this server's own pages"
        if kind == "http" and method.upper() == "POST":
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype in SIMPLE_TYPES and not (ctype == "multipart/form-data" and _UPLOAD.fullmatch(path)):
                return 415, (f"Content-Type {ctype} is not accepted here: send YAML (application/x-yaml) or JSON "
                             "(application/json); multipart/form-data only to upload files")
        return None

    def _foreign(self, headers: dict[str, str], host_header: str | None) -> str | None:
        """Why the request comes from another site's page, or None when it does not (or is not from a browser)."""
        site = headers.get("sec-fetch-site", "").strip().lower()
        if site in ("cross-site", "same-site"):
            return f"Sec-Fetch-Site: {site}"
        if site in ("same-origin", "none"):
            return None
        origin = headers.get("origin")
        if origin is not None:
            if origin.strip().lower() == "null" or not self.policy.same_server(origin.strip(), host_header):
                return f"Origin {origin[:100]}"
            return None
        referer = headers.get("referer")
        if referer is not None and not self.policy.same_server(referer.strip(), host_header):
            return f"Referer from {urlsplit(referer).netloc[:100] or 'another page'}"
        return None


async def _respond(send: Send, status: int, message: str) -> None:
    payload = json.dumps({"message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


async def _refuse_websocket(scope: Scope, send: Send, refusal: tuple[int, str]) -> None:
    status, message = refusal
    if "websocket.http.response" in (scope.get("extensions") or {}):
        payload = json.dumps({"message": message}).encode()
        await send({"type": "websocket.http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "websocket.http.response.body", "body": payload})
    else:
        await send({"type": "websocket.close", "code": 1008})  # the server answers 403
