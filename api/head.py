"""HEAD wherever GET is served (RFC 9110 §9.3.2): the GET's status and headers, no body.

FastAPI's routes answer only the methods they declare, so HEAD got 405 everywhere. The request is
passed on as a GET; its body is dropped, and once the headers are out the application is told the
client has gone, so an endless GET (the live stream) ends too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def no_body(message: Message) -> None:
            nonlocal done
            if done:
                return
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body":
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def until_done() -> Message:
            return {"type": "http.disconnect"} if done else await receive()

        # The server keeps the original scope (method HEAD), so it writes no body either.
        await self.app({**scope, "method": "GET"}, until_done, no_body)
