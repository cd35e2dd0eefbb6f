"""Bybit V5 WebSocket streams through `websockets`: connect, authenticate, subscribe, heartbeat,
reconnect with exponential backoff and jitter, resubscribe, and tell the runtime about gaps.

Every (re)connection that completes its subscriptions calls `on_connected(gap)`, with `gap`
True after any disconnection: the runtime then resyncs over REST, because whatever happened
while the stream was down was not seen. A silent connection (no message, not even a pong,
within `stale_after_s`) is treated as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

MessageHandler = Callable[[dict[str, Any], int], None]
"""(message, receive time in perf_counter_ns)."""
ConnectedHandler = Callable[[bool], Awaitable[None]]
SUBSCRIBE_CHUNK = 10


def auth_args(api_key: str, api_secret: str, expires_ms: int) -> list[Any]:
    payload = f"GET/realtime{expires_ms}"
    signature = hmac.new(api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return [api_key, expires_ms, signature]


class BybitStream:
    def __init__(
        self,
        name: str,
        url: str,
        topics: Sequence[str],
        on_message: MessageHandler,
        *,
        on_connected: ConnectedHandler | None = None,
        on_disconnected: Callable[[], None] | None = None,
        credentials: tuple[str, str] | None = None,
        ping_interval_s: float = 20.0,
        stale_after_s: float = 45.0,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.name = name
        self.url = url
        self.topics = list(topics)
        self.on_message = on_message
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.credentials = credentials
        self.ping_interval_s = ping_interval_s
        self.stale_after_s = stale_after_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.connected = False
        self.up = asyncio.Event()
        self.reconnects = 0
        self.messages = 0
        self._ws: ClientConnection | None = None
        self._stopping = False
        self._last_rx = 0.0
        self.on_reconnect: Callable[[str], None] | None = None

    def backoff_s(self, failures: int) -> float:
        """Exponential backoff with full jitter in [0.5, 1.5) of the step."""
        step = min(self.backoff_max_s, self.backoff_base_s * float(2 ** min(failures, 16)))
        return step * (0.5 + random.random())  # noqa: S311 - jitter, not crypto

    async def run(self) -> None:
        failures = 0
        had_connection = False
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._session(gap=had_connection)
            except (OSError, websockets.WebSocketException, TimeoutError, ValueError) as error:
                log.warning("%s stream: %s", self.name, error)
            finally:
                if self.connected and self.on_disconnected is not None:
                    self.on_disconnected()
                if self.connected:
                    had_connection = True
                self.connected = False
                self.up.clear()
                self._ws = None
            if self.stopping():
                return
            failures = 0 if time.monotonic() - started > 30 else failures + 1
            self.reconnects += 1
            if self.on_reconnect is not None:
                self.on_reconnect(self.name)
            await asyncio.sleep(self.backoff_s(failures))

    async def _session(self, gap: bool) -> None:
        async with websockets.connect(
            self.url, ping_interval=None, open_timeout=10, close_timeout=2, max_size=2**22
        ) as ws:
            self._ws = ws
            self._last_rx = time.monotonic()
            if self.credentials is not None:
                await self._request(ws, "auth", auth_args(*self.credentials, _expires()))
            for i in range(0, len(self.topics), SUBSCRIBE_CHUNK):
                await self._request(ws, "subscribe", self.topics[i : i + SUBSCRIBE_CHUNK])
            self.connected = True
            self.up.set()
            if self.on_connected is not None:
                await self.on_connected(gap)
            heartbeat = asyncio.create_task(self._heartbeat(ws))
            try:
                async for raw in ws:
                    received = time.perf_counter_ns()
                    self._last_rx = time.monotonic()
                    message = json.loads(raw)
                    if "topic" in message:
                        self.messages += 1
                        self.on_message(message, received)
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat

    async def _request(self, ws: ClientConnection, op: str, args: list[Any]) -> None:
        req_id = f"{op}-{random.getrandbits(32):x}"
        await ws.send(json.dumps({"op": op, "args": args, "req_id": req_id}))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
            message = json.loads(raw)
            if message.get("op") == op or message.get("req_id") == req_id:
                if not message.get("success", False):
                    raise ValueError(f"{op} refused: {message.get('ret_msg')}")
                return
            if "topic" in message:  # data can race the subscribe answer
                self.messages += 1
                self.on_message(message, time.perf_counter_ns())
        raise TimeoutError(f"no answer to {op}")

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(min(self.ping_interval_s, self.stale_after_s / 3))
            if time.monotonic() - self._last_rx > self.stale_after_s:
                log.warning(
                    "%s stream silent for %.0fs: reconnecting", self.name, self.stale_after_s
                )
                await ws.close()
                return
            await ws.send(json.dumps({"op": "ping", "req_id": "hb"}))

    async def resubscribe(self, topic: str) -> None:
        """Unsubscribe and subscribe ``topic`` again on the open connection (a broken order book:
        the venue answers a new subscription with a snapshot). The answers arrive through the
        reading loop, which skips them; a dropped connection resubscribes everything anyway."""
        ws = self._ws
        if ws is None or not self.connected:
            return
        for op in ("unsubscribe", "subscribe"):
            req_id = f"re{op}-{random.getrandbits(32):x}"
            await ws.send(json.dumps({"op": op, "args": [topic], "req_id": req_id}))

    def stopping(self) -> bool:
        return self._stopping

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()


def _expires() -> int:
    return int(time.time() * 1000) + 10_000
