"""Saving the venue's state to a JSON file and restoring it.

What is kept: market time and prices (with admin adjustments and recent candles),
accounts with keys, wallets, positions and leverage, open and recent orders, recent
executions, transfers (for idempotency), funding history and the next settlement.
Secrets are in the file: keep it private (it is written with mode 0600).

Restoring resumes the market where the snapshot left it: prices continue from the saved
ones (the feed is re-anchored to them), a real-time clock jumps to wall time and an
accelerated or stepped one continues from the saved time (`Clock.restore`). Whatever fell
due in between, funding settlements above all, happens at once, each exactly once, at the
restored prices: the venue was not there to see the market move.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from dataclasses import fields
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from paper_venue.instruments import Category, Instrument
from paper_venue.ledger.accounts import Account, ApiKey, Transfer
from paper_venue.ledger.positions import Position
from paper_venue.matching.orders import Execution, Order, OrderStatus
from paper_venue.router.market import Bar
from paper_venue.router.venue import Venue

VERSION = 1
BARS_KEPT = 2 * 1440


def _enc(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Instrument):
        return [value.category.value, value.symbol]
    if isinstance(value, dict):
        return {str(k): _enc(v) for k, v in value.items()}
    if isinstance(value, list | tuple | deque):
        return [_enc(v) for v in value]
    return value


def _obj(o: Any) -> dict[str, Any]:
    return {f.name: _enc(getattr(o, f.name)) for f in fields(o)}


def dump(venue: Venue) -> dict[str, Any]:
    """The venue's state as JSON-ready data."""
    return {
        "version": VERSION,
        "now_ms": venue.clock.now_ms(),
        "next_funding_ms": venue.next_funding_ms,
        "market": {
            s: {
                "last": str(st.last),
                "adjust": str(st.adjust),
                "paused_at": str(st.paused_at) if st.paused_at is not None else None,
                "bars": [_obj(b) for b in st.bars[-BARS_KEPT:]],
            }
            for s, st in venue.market.states.items()
        },
        "accounts": [
            {
                **{k: _enc(v) for k, v in _obj(a).items() if k != "positions"},
                "positions": [_obj(p) for p in a.positions.values()],
            }
            for a in venue.accounts.values()
        ],
        "keys": [_obj(k) for k in venue.keys.values()],
        "orders": [_obj(o) for o in venue.orders.values()],
        "open": [o.order_id for uid in venue.accounts for o in venue.open_orders(uid)],
        "executions": [_obj(e) for q in venue.executions.values() for e in list(q)[:2000]],
        "transfers": [_obj(t) for t in venue.transfers.values()],
        "funding_history": {
            s: [[t, str(r)] for t, r in h] for s, h in venue.funding_history.items()
        },
        "funding_index": venue.funding_index,
    }


def save(venue: Venue, path: Path) -> None:
    """Write atomically with owner-only permissions: a new temporary file beside `path`
    (never an existing one, nor a link), then a rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(dump(venue), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _dec(d: dict[str, Any], *names: str) -> None:
    for n in names:
        if d.get(n) is not None:
            d[n] = Decimal(d[n])


def _inst(venue: Venue, raw: list[str]) -> Instrument:
    return venue.instrument(Category(raw[0]), raw[1])


def load(venue: Venue, data: dict[str, Any]) -> None:
    """Replace the venue's state with a snapshot's."""
    if data.get("version") != VERSION:
        raise ValueError("unsupported snapshot version")
    now = venue.clock.restore(int(data["now_ms"]))
    venue.next_funding_ms = int(data["next_funding_ms"])
    for symbol, m in data["market"].items():
        st = venue.market.states[symbol]
        st.last = st.prev_last = Decimal(m["last"])
        st.adjust = Decimal(m["adjust"])
        st.paused_at = Decimal(m["paused_at"]) if m["paused_at"] is not None else None
        bars = []
        for b in m["bars"]:
            _dec(b, "open", "high", "low", "close", "volume", "turnover")
            bars.append(Bar(**b))
        st.bars = bars
        venue.market.reanchor(symbol, now)
    venue.accounts.clear()
    venue.keys.clear()
    for raw in data["accounts"]:
        positions = raw.pop("positions")
        for name in ("unified", "fund", "leverage", "cum_realised"):
            raw[name] = {k: Decimal(v) for k, v in raw[name].items()}
        acct = Account(**raw)
        for p in positions:
            _dec(p, "leverage", "size", "entry", "cur_realised", "take_profit", "stop_loss")
            acct.positions[p["symbol"]] = Position(**p)
        venue.accounts[acct.uid] = acct
    for k in data["keys"]:
        venue.keys[k["key"]] = ApiKey(**k)
    venue.orders.clear()
    venue.by_link.clear()
    open_ids = set(data["open"])
    for raw in data["orders"]:
        raw["inst"] = _inst(venue, raw["inst"])
        raw["status"] = OrderStatus(raw["status"])
        _dec(
            raw,
            "qty",
            "price",
            "last_price_on_created",
            "cum_exec_qty",
            "cum_exec_value",
            "cum_exec_fee",
            "locked",
            "quote_qty",
            "closed_pnl",
        )
        order = Order(**raw)
        venue.register(order)
        if order.order_id in open_ids:
            venue.rest(order)
        else:
            venue.finish(order)
    for raw in reversed(data["executions"]):
        raw["inst"] = _inst(venue, raw["inst"])
        _dec(
            raw,
            "order_price",
            "order_qty",
            "leaves_qty",
            "exec_price",
            "exec_qty",
            "exec_fee",
            "fee_rate",
            "mark_price",
            "closed_size",
            "exec_pnl",
        )
        venue.record_execution(Execution(**raw))
    venue.transfers.clear()
    for raw in data["transfers"]:
        raw["amount"] = Decimal(raw["amount"])
        raw["fingerprint"] = tuple(raw["fingerprint"])
        venue.transfers[raw["transfer_id"]] = Transfer(**raw)
    venue.funding_history = {
        s: [(int(t), Decimal(r)) for t, r in h] for s, h in data["funding_history"].items()
    }
    venue.funding_index = {s: int(i) for s, i in data["funding_index"].items()}
    for inst in venue.instruments.values():
        venue.book.refresh(inst, venue.market.price(inst.symbol))
    venue.reseed_ids()


def restore(venue: Venue, path: Path) -> None:
    """Load the snapshot in `path`, then bring the venue to its clock (what fell due while
    the venue was away happens now)."""
    load(venue, json.loads(path.read_text()))
    venue.update()
