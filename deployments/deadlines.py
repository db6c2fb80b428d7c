"""Time limits for the port 9093 listener, which runs its own uvicorn (Serve's proxy has its own).

uvicorn closes idle keep-alive connections but gives a client unlimited time to send a
request's head or body, so a sender dripping a byte at a time could hold connections
forever. Two pieces bound that: :func:`timely_h11` closes a connection whose request head
has not arrived within the limit (answering 408 first), and :class:`RequestDeadline`
answers 408 (closing the connection) when the body has not arrived within the limit
counted from the request's start.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

from aiops.errors import RequestTimeout

_TIMEOUT_BODY = b'{"error": {"code": "request_timeout", "message": "the request head did not arrive in time"}}'
_TIMEOUT_ANSWER = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                   b"content-length: %d\r\n\r\n" % len(_TIMEOUT_BODY)) + _TIMEOUT_BODY


def timely_h11(head_seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on each request's head (for ``uvicorn.Config(http=...)``)."""

    class TimelyH11(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _waiting_for_head(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(head_seconds, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self._waiting_for_head() and not self.transport.is_closing():
                self.transport.write(_TIMEOUT_ANSWER)
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._waiting_for_head():
                self._arm()  # a new request begins: its head must arrive in time
            super().data_received(data)
            if not self._waiting_for_head():
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return TimelyH11


class RequestDeadline:
    """ASGI middleware: the body must arrive within ``seconds`` of the request's start, else 408."""

    def __init__(self, app, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds

        async def timed_receive():
            try:
                return await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                # Raised inside the app's body read: its error handlers answer 408 and close.
                raise RequestTimeout(f"the request body did not arrive within {self.seconds:g} s") from None

        await self.app(scope, timed_receive, send)
