"""uvicorn's h11 protocol with a deadline for a request's headers (slow-headers clients are cut off).

uvicorn times out idle keep-alive connections, but a client that opens a
connection and sends its headers a byte every few seconds ("slowloris")
holds it for as long as it likes: nothing times the header phase. Each
connection here gets ``header_timeout`` seconds, from when it opens (or from
the end of the previous response on a kept-alive connection) until its
request's headers are complete; past that it is closed. Request bodies are
not concerned (large uploads may legitimately take long).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadlineProtocol(H11Protocol):
    """:class:`H11Protocol` that closes connections whose request headers take too long."""

    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # a request's headers are complete (or the connection ended)
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request's headers on this kept-alive connection

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._on_header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.debug("closing a connection whose request headers took more than %ss", self.header_timeout)
            self.transport.close()


def protocol_with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class uvicorn should use (``uvicorn.Config(http=...)``) for this deadline."""
    return type("LannerHttpProtocol", (HeaderDeadlineProtocol,), {"header_timeout": float(seconds)})
