"""WebSocket endpoints: the op protocol (auth, subscribe, unsubscribe, ping) Bybit speaks.

Subscriptions complete after `ws_reply_delay_ms` (a network round trip's worth): pybit
records a subscription only after sending it, so an answer faster than that bookkeeping
would reach a client that does not yet know the topic. Stream data for a topic starts
after its reply and snapshot, never before.

Replies follow Bybit's documented shapes: public spot answers a subscribe with
`ret_msg: "subscribe"`, linear and private with an empty `ret_msg`; `req_id` is echoed
when given; a public ping gets `ret_msg: "pong"` with `op: "ping"`, a private one
`op: "pong"` with the server time in `args`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

from aiohttp import WSMsgType, web

from paper_venue.clock import Clock
from paper_venue.errors import BybitError
from paper_venue.instruments import Category, Instrument
from paper_venue.router.auth import verify_ws_auth
from paper_venue.router.faults import Faults
from paper_venue.router.venue import Venue
from paper_venue.router.ws_conn import Connection
from paper_venue.router.ws_private import ALL_TOPICS, PrivateStreams
from paper_venue.router.ws_public import PublicStreams

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 64 * 1024
SPOT_MAX_ARGS = 10
"""Bybit: spot takes at most 10 args per subscription request."""


class WebSockets:
    """All WebSocket state of one venue."""

    def __init__(self, venue: Venue, reply_delay_ms: int = 0, faults: Faults | None = None) -> None:
        self.venue = venue
        self.reply_delay_s = reply_delay_ms / 1000
        self.public = {c: PublicStreams(venue, c) for c in (Category.SPOT, Category.LINEAR)}
        self.private = PrivateStreams(venue, faults)
        self.connections: set[Connection] = set()
        venue.tick_listeners.append(self._on_tick)
        venue.trade_listeners.append(self._on_trade)

    def _on_tick(self, moved: list[str]) -> None:
        for streams in self.public.values():
            streams.on_tick(moved)

    def _on_trade(
        self, inst: Instrument, price: Decimal, qty: Decimal, side: str, now: int
    ) -> None:
        for streams in self.public.values():
            streams.on_trade(inst, price, qty, side, now)

    def drop_all(self) -> int:
        """Admin fault: cut every connection."""
        conns = list(self.connections)
        for conn in conns:
            conn.drop()
        return len(conns)

    async def public_handler(self, request: web.Request) -> web.StreamResponse:
        channel = request.match_info["channel"]
        if channel not in ("spot", "linear"):
            raise web.HTTPNotFound()
        return await self._serve(request, "public", Category(channel))

    async def private_handler(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "private", None)

    async def _serve(
        self, request: web.Request, kind: str, category: Category | None
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, request, kind)
        self.connections.add(conn)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.ERROR:
                        break
                    continue
                try:
                    self._on_message(conn, category, msg.data)
                except Exception:
                    log.exception("unexpected error handling a WebSocket message")
                    self._reply(conn, "", None, False, "error:internal error")
        finally:
            self.connections.discard(conn)
            if category is not None:
                self.public[category].remove(conn)
            else:
                self.private.remove(conn)
            await conn.close()
        return ws

    def _reply(
        self, conn: Connection, op: str, req_id: object, success: bool, ret_msg: str
    ) -> None:
        reply: dict[str, object] = {"success": success, "ret_msg": ret_msg, "conn_id": conn.conn_id}
        if req_id is not None:
            reply["req_id"] = req_id
        elif conn.kind == "public":
            reply["req_id"] = ""
        reply["op"] = op
        conn.send(reply)

    def _on_message(self, conn: Connection, category: Category | None, text: str) -> None:
        try:
            msg = json.loads(text)
        except json.JSONDecodeError:
            self._reply(conn, "", None, False, "error:request not json")
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
            self._reply(conn, "", None, False, "error:unknown op")
            return
        op, req_id, args = msg["op"], msg.get("req_id"), msg.get("args")
        if op == "ping":
            if conn.kind == "private":
                pong: dict[str, object] = {"op": "pong", "args": [str(Clock.wall_ms())]}
                if req_id is not None:
                    pong["req_id"] = req_id
                pong["conn_id"] = conn.conn_id
                conn.send(pong)
            else:
                self._reply(conn, "ping", req_id, True, "pong")
            return
        if op == "auth":
            self._auth(conn, req_id, args)
            return
        if op not in ("subscribe", "unsubscribe"):
            self._reply(conn, op, req_id, False, f"error:unknown op {op}")
            return
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            self._reply(conn, op, req_id, False, "error:args must be a list of topics")
            return
        if conn.kind == "private" and conn.uid is None:
            self._reply(conn, op, req_id, False, "Request not authorized")
            return
        self._subscription(conn, category, op, req_id, [str(a) for a in args])

    def _auth(self, conn: Connection, req_id: object, args: object) -> None:
        if conn.kind != "private":
            self._reply(conn, "auth", req_id, False, "error:auth is for the private channel")
            return
        try:
            key = verify_ws_auth(
                args if isinstance(args, list) else [], self.venue.keys, Clock.wall_ms()
            )
        except BybitError as err:
            self._reply(conn, "auth", req_id, False, err.message)
            return
        if conn.uid is not None:
            self._reply(conn, "auth", req_id, False, "Repeat auth")
            return
        self.private.authenticated(conn, key.uid)
        self._reply(conn, "auth", req_id, True, "")

    def _subscription(
        self,
        conn: Connection,
        category: Category | None,
        op: str,
        req_id: object,
        topics: list[str],
    ) -> None:
        if category is Category.SPOT and len(topics) > SPOT_MAX_ARGS:
            self._reply(conn, op, req_id, False, f"error:args size >{SPOT_MAX_ARGS}")
            return
        if op == "unsubscribe":
            bad = [t for t in topics if t not in conn.topics]
        elif category is not None:
            bad = [t for t in topics if self.public[category].parse(t) is None]
        else:
            bad = [t for t in topics if t not in ALL_TOPICS]
        if bad:
            self._reply(conn, op, req_id, False, f"error:handler not found,topic:{bad[0]}")
            return
        if self.reply_delay_s > 0:
            asyncio.get_running_loop().call_later(
                self.reply_delay_s, self._complete, conn, category, op, req_id, topics
            )
        else:
            self._complete(conn, category, op, req_id, topics)

    def _complete(
        self,
        conn: Connection,
        category: Category | None,
        op: str,
        req_id: object,
        topics: list[str],
    ) -> None:
        """Apply a validated (un)subscription: reply first, then the initial snapshots, and
        only then let stream data for these topics through."""
        if conn not in self.connections:
            return
        ok_msg = "subscribe" if category is Category.SPOT and op == "subscribe" else ""
        self._reply(conn, op, req_id, True, ok_msg)
        for topic in topics:
            if op == "unsubscribe":
                if category is not None:
                    self.public[category].unsubscribe(conn, topic)
                else:
                    conn.topics.discard(topic)
            elif category is not None:
                if self.public[category].subscribe(conn, topic):
                    self.public[category].send_initial(conn, topic)
            else:
                self.private.subscribe(conn, topic)
