"""httpx's transport pinned to the address the HTTP task checked (no re-resolution between check and connect).

Its own module so that httpx and httpcore are imported when a request is
made, not when the task types load.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import httpcore
import httpx

#: httpcore's socket option: (level, option, value) or (level, option, None, length).
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class PinnedBackend(httpcore.SyncBackend):
    """Opens TCP connections to the checked address whatever the name resolves to now."""

    def __init__(self, host: str, ip: str):
        self._host = host.lower().strip("[]")
        self._ip = ip

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[SocketOption] | None = None) -> httpcore.NetworkStream:
        if host.lower().strip("[]") != self._host:
            raise httpcore.ConnectError(f"connection to {host!r} was not checked")
        return super().connect_tcp(self._ip, port, timeout, local_address, socket_options)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport over a pool with the pinned network backend (no proxies, HTTP/1.1).

    ``HTTPTransport.__init__`` is skipped on purpose: it would build an SSL
    context and a pool only to be replaced; the methods we inherit use ``_pool`` only.
    """

    def __init__(self, host: str, ip: str, ssl_context: ssl.SSLContext | None):
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=PinnedBackend(host, ip), max_connections=1
        )
