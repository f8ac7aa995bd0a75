"""How long a client may take to send a request, and how large its headers may be.

uvicorn bounds only the idle time between requests (``timeout_keep_alive``); a client that sends a
request slowly, or declares a large body and sends a byte of it, holds its connection for ever
(uvicorn issue #157, "--timeout-request-start" and "--timeout-request-complete", still open). An
ASGI middleware cannot help with that: the application is called only once the headers are in. So
the deadlines live in the protocol: ``guarded_protocol`` extends uvicorn's httptools protocol.

* headers: from the connection (or the first byte of the next request on a kept-alive one) until the
  headers are complete, at most ``header_timeout_s`` and ``max_header_bytes``; else 408 or 431 and
  the connection is closed;
* body: from the end of the headers until the body is complete, at most ``body_timeout_s``; else
  the connection is closed (with 408 if no answer has begun). Answering does not stop that clock: a
  client sent a 413 cannot keep trickling the rest of its body.

The response may take as long as it needs (the live stream runs for hours). The body's size is
limited by FastAPI's own ``max_body_size`` (413), set in ``api.app``.
"""

from __future__ import annotations

import asyncio
import json
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


def _answer(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


REQUEST_TIMEOUT = _answer(408, "Request Timeout", "the request did not arrive in time")
LINGER_S = 2.0
HEADERS_TOO_LARGE = _answer(431, "Request Header Fields Too Large", "the request's headers are too large")


class _GuardedProtocol(HttpToolsProtocol):
    header_timeout_s = 10.0
    body_timeout_s = 30.0
    max_header_bytes = 64 * 1024

    _deadline: asyncio.TimerHandle | None = None
    _reading_headers = False
    _header_bytes = 0
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: read and drop what the client still sends
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        # Counted over whole reads, judged after parsing: a read that also completes the headers
        # (and brings a body with it) is never too large.
        if self._reading_headers and self._header_bytes > self.max_header_bytes:
            self._refuse(HEADERS_TOO_LARGE, f"headers larger than {self.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_headers:
            self._start_headers()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._reading_headers = False
        if self.parser.should_upgrade():
            self._disarm()  # a WebSocket (none is served today) lives under another protocol object
        else:
            self._arm(self.body_timeout_s, "body")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _start_headers(self) -> None:
        self._reading_headers = True
        self._header_bytes = 0
        self._arm(self.header_timeout_s, "headers")

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, part)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, part: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if part == "body" and cycle is not None and cycle.response_started:
            self.transport.close()  # an answer has begun: a 408 now would garble it
            return
        self._refuse(REQUEST_TIMEOUT, f"request {part} not complete within the deadline")

    def _refuse(self, answer: bytes, why: str) -> None:
        self._disarm()
        self._reading_headers = False
        self._refused = True
        log.info("refused a request from %s: %s", self.client[0] if self.client else "?", why)
        self.transport.write(answer)
        # Closing with unread input would reset the connection and the client might lose the
        # answer; so, as web servers' "lingering close": send it, end our side, drop what still
        # comes for a moment, then close.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


def guarded_protocol(
    header_timeout_s: float, body_timeout_s: float, max_header_bytes: int
) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with request deadlines (``uvicorn.Config(http=...)``)."""
    return type(
        "GuardedHttpToolsProtocol",
        (_GuardedProtocol,),
        {
            "header_timeout_s": header_timeout_s,
            "body_timeout_s": body_timeout_s,
            "max_header_bytes": max_header_bytes,
        },
    )
