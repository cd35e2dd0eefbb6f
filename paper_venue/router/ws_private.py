"""Private streams on /v5/private: auth, then order, execution, position and wallet.

Topics may be narrowed by category (`order.linear`, `execution.spot`, ...). The `dcp`
topic arms disconnect-cancel-all: when the last connection of an account holding it
goes away, the account's orders are cancelled after the window set with
/v5/order/disconnected-cancel-all (unless it reconnects first).
"""

from __future__ import annotations

import asyncio
import json
import uuid

from paper_venue.router.faults import Faults
from paper_venue.router.venue import Venue
from paper_venue.router.ws_conn import Connection

BASE_TOPICS = (
    "order",
    "execution",
    "position",
    "wallet",
    "greeks",
    "dcp",
    "dcp.future",
    "dcp.spot",
    "dcp.option",
)
CATEGORY_TOPICS = {
    f"{t}.{c}" for t in ("order", "execution", "position") for c in ("spot", "linear")
}
ALL_TOPICS = (
    set(BASE_TOPICS)
    | CATEGORY_TOPICS
    | {"execution.fast", "execution.fast.linear", "execution.fast.spot"}
)


class PrivateStreams:
    """Authenticated connections by account, and the fan-out of the venue's private events."""

    def __init__(self, venue: Venue, faults: Faults | None = None) -> None:
        self.venue = venue
        self.faults = faults or Faults()
        self.by_uid: dict[int, set[Connection]] = {}
        venue.private_listeners.append(self.on_event)
        venue.private_interest.append(lambda uid: bool(self.by_uid.get(uid)))

    def authenticated(self, conn: Connection, uid: int) -> None:
        conn.uid = uid
        self.by_uid.setdefault(uid, set()).add(conn)
        self.venue.dcp_deadlines.pop(uid, None)

    def remove(self, conn: Connection) -> None:
        if conn.uid is None:
            return
        conns = self.by_uid.get(conn.uid, set())
        conns.discard(conn)
        had_dcp = _holds_dcp(conn)
        still = any(_holds_dcp(c) for c in conns)
        window = self.venue.account(conn.uid).dcp_window_s
        if had_dcp and not still and window > 0:
            self.venue.dcp_deadlines[conn.uid] = self.venue.clock.network_ms() + window * 1000

    def subscribe(self, conn: Connection, topic: str) -> bool:
        if topic not in ALL_TOPICS:
            return False
        conn.topics.add(topic)
        return True

    def on_event(self, uid: int, topic: str, rows: list[dict[str, object]]) -> None:
        if not self.by_uid.get(uid):
            return
        now = self.venue.clock.now_ms()
        if topic == "execution":
            if self.faults.take_dropped_execution():
                return
            if self.faults.execution_delay_ms:
                delay_s = self.faults.execution_delay_ms / 1000
                asyncio.get_running_loop().call_later(delay_s, self._fan_out, uid, topic, rows, now)
                return
        self._fan_out(uid, topic, rows, now)

    def _fan_out(self, uid: int, topic: str, rows: list[dict[str, object]], now: int) -> None:
        conns = self.by_uid.get(uid)
        if not conns:
            return
        by_category: dict[str, list[dict[str, object]]] = {}
        for row in rows:
            by_category.setdefault(str(row.get("category", "")), []).append(row)
        for conn in list(conns):
            if topic in conn.topics:
                conn.send(self._message(uid, topic, rows, now))
            for category, subset in by_category.items():
                narrowed = f"{topic}.{category}"
                if narrowed in conn.topics:
                    conn.send(self._message(uid, narrowed, subset, now))

    @staticmethod
    def _message(
        uid: int, topic: str, rows: list[dict[str, object]], now: int
    ) -> dict[str, object]:
        return {"id": f"{uid}{uuid.uuid4()}", "topic": topic, "creationTime": now, "data": rows}


def _holds_dcp(conn: Connection) -> bool:
    return any(t == "dcp" or t.startswith("dcp.") for t in conn.topics)


def dumps(message: dict[str, object]) -> str:
    return json.dumps(message, separators=(",", ":"))
