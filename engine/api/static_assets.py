"""The builder's static files (Panel's and Bokeh's scripts and styles): kept by the browser, sent gzip-compressed.

Every builder page loads the same large scripts (``bokeh.min.js`` alone is 1.4 MB,
a Panel page 2.8 MB). They change only when the packages are upgraded, so the
browser may keep them for :data:`STATIC_MAX_AGE`; and a browser that does not
have them yet gets them compressed (about a quarter of the size). Each file is
compressed once per server process, in a worker thread, and kept in memory
(:class:`CompressedStatic`): the next browser gets the same bytes at no cost.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: How long a browser keeps Panel's and Bokeh's scripts and styles (they change only with an upgrade).
STATIC_MAX_AGE = 3600
#: Smaller files are sent as they are (compression would not pay for its headers).
MIN_SIZE = 1024
#: The most bytes of compressed files kept (every script and style of Panel and Bokeh fit well below).
MAX_KEPT = 32 * 1024 * 1024
COMPRESSIBLE = (b"application/javascript", b"text/javascript", b"text/css", b"application/json", b"image/svg+xml")


@dataclass(frozen=True)
class Compressed:
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _cache_control(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
    return [*kept, (b"cache-control", f"max-age={STATIC_MAX_AGE}".encode())]


def _header(scope: Scope, name: bytes) -> bytes:
    return next((v for k, v in scope.get("headers", []) if k.lower() == name), b"")


class CompressedStatic:
    """Serves a static file request through ``app``, compressed when the browser accepts gzip."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, bytes], Compressed] = {}
        self._kept = 0
        self._lock = threading.Lock()

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        wants_gzip = b"gzip" in _header(scope, b"accept-encoding").lower()
        if scope.get("method") != "GET" or not wants_gzip or _header(scope, b"range"):
            await app(scope, receive, _cached(send))
            return
        key = (scope.get("path", ""), scope.get("query_string", b""))
        found = self._files.get(key)
        if found is None:
            start, body = await _capture(app, scope, receive)
            if not _compressible(start, body):
                await send({**start, "headers": _cache_control(start.get("headers", []))
                            if start.get("status") == 200 else start.get("headers", [])})
                await send({"type": "http.response.body", "body": body})
                return
            found = await asyncio.get_running_loop().run_in_executor(None, _compress, start, body)
            self._keep(key, found)
        await send({"type": "http.response.start", "status": 200, "headers": found.headers})
        await send({"type": "http.response.body", "body": found.body})

    def _keep(self, key: tuple[str, bytes], found: Compressed) -> None:
        with self._lock:
            if key not in self._files and self._kept + len(found.body) <= MAX_KEPT:
                self._files[key] = found
                self._kept += len(found.body)


def _compressible(start: Message, body: bytes) -> bool:
    headers = dict((k.lower(), v) for k, v in start.get("headers", []))
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return (start.get("status") == 200 and len(body) >= MIN_SIZE and kind in COMPRESSIBLE
            and b"content-encoding" not in headers)


def _compress(start: Message, body: bytes) -> Compressed:
    packed = gzip.compress(body, compresslevel=6, mtime=0)
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"vary")]
    headers = [*_cache_control(headers), (b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding"),
               (b"content-length", str(len(packed)).encode())]
    return Compressed(headers, packed)


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
    """The response ``app`` gives: its start message and its whole body."""
    start: Message = {"type": "http.response.start", "status": 500, "headers": []}
    chunks: list[bytes] = []

    async def collect(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return start, b"".join(chunks)


def _cached(send: Send) -> Send:
    """``send`` that lets the browser keep a static file: every page loads the same megabytes of scripts."""
    async def wrapped(message: Message) -> None:
        if message.get("type") == "http.response.start" and message.get("status") == 200:
            message = {**message, "headers": _cache_control(message.get("headers", []))}
        await send(message)

    return wrapped
