"""One WebSocket connection: an outgoing queue drained by its own writer task.

Venue callbacks are synchronous, so they only enqueue; the writer awaits the socket. A
client that falls too far behind is disconnected rather than allowed to grow the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

from aiohttp import web

MAX_QUEUE = 20_000


class Connection:
    """A subscribed client."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, kind: str) -> None:
        self.ws = ws
        self.kind = kind
        self.conn_id = f"{uuid.uuid4().hex[:20]}-{kind}"
        self.topics: set[str] = set()
        self.uid: int | None = None
        self._transport = request.transport
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._drain())

    def send(self, message: dict[str, object]) -> None:
        self.send_text(json.dumps(message, separators=(",", ":")))

    def send_text(self, text: str) -> None:
        if self._queue.qsize() >= MAX_QUEUE:
            self.drop()
            return
        self._queue.put_nowait(text)

    async def _drain(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def drop(self) -> None:
        """Cut the TCP connection without a close frame, as a network failure would."""
        if self._transport is not None:
            self._transport.abort()

    async def close(self) -> None:
        self._queue.put_nowait(None)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer
