"""Basic authentication and request-size limits, as one ASGI middleware.

* With users configured, every route needs HTTP basic credentials except
  ``/health`` and the webhook URLs (which carry their own key). The open
  routes are matched on the exact path the router sees, so no suffix or
  ``..`` trick opens anything else. Credentials are compared in constant time.
* Request bodies larger than ``max_body`` bytes are refused with 413, whether
  they announce their size (Content-Length) or stream it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health"})
WEBHOOK_RE = re.compile(r"/api/v1/executions/webhook/[^/]+/[^/]+/[^/]+")


def parse_users(spec: str | dict[str, str] | list[str] | None) -> dict[str, str]:
    """``"alice:pw1,bob:pw2"`` (or a mapping / list of ``user:password``) -> {user: password}."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        return {str(k): str(v) for k, v in spec.items()}
    items = spec if isinstance(spec, list) else spec.split(",")
    users = {}
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        user, sep, password = item.partition(":")
        if not sep or not user or not password:
            raise ValueError(f"auth user {user or item!r}: expected user:password")
        users[user] = password
    return users


def is_webhook(path: str) -> bool:
    """A webhook URL (exactly: no ``..`` segment can lead from one to another route)."""
    return WEBHOOK_RE.fullmatch(path) is not None and ".." not in path.split("/")


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or is_webhook(path)


class BodyTooLarge(Exception):
    pass


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, users: dict[str, str] | None = None, max_body: int = 10 * 1024 * 1024):
        self.app = app
        self.users = {u.encode(): p.encode() for u, p in (users or {}).items()}
        self.max_body = max_body

    def _authorised(self, scope: Scope) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, value = header.partition(b" ")
        if scheme.lower() != b"basic" or not value:
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        ok = False
        for known_user, known_pw in self.users.items():
            # Compare against every user so timing does not tell which names exist.
            match = hmac.compare_digest(user, known_user) & hmac.compare_digest(password, known_pw)
            ok = ok or bool(match and sep)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.users and not is_open(scope["path"]) and not self._authorised(scope):
            # The UI's websockets (Panel sessions) need the same credentials as its pages.
            if "websocket.http.response" in (scope.get("extensions") or {}):
                payload = json.dumps({"message": "authentication required: use HTTP basic credentials"}).encode()
                await send({"type": "websocket.http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"), (b"www-authenticate", b'Basic realm="lanner"')]})
                await send({"type": "websocket.http.response.body", "body": payload})
            else:
                await send({"type": "websocket.close", "code": 1008})  # the server answers 403
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.users and not is_open(scope["path"]) and not self._authorised(scope):
            await _respond(send, 401, "authentication required: use HTTP basic credentials", {"www-authenticate": 'Basic realm="lanner"'})
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                if int(length) > self.max_body:
                    await _respond(send, 413, f"request body is larger than the {self.max_body} bytes allowed (LANNER_MAX_BODY)")
                    return
            except ValueError:
                await _respond(send, 400, "Content-Length is not a number")
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _respond(send, 413, f"request body is larger than the {self.max_body} bytes allowed (LANNER_MAX_BODY)")


async def _respond(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps({"message": message}).encode()
    raw: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
