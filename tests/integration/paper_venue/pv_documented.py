"""Every answer the venue gives, checked field by field against Bybit's documented examples.

`ROUTES` names, for every REST route the venue serves (`rest.all_endpoints()`), the
fixtures (tests/fixtures/bybit/) its answers must match; `TOPICS` does the same for every
stream topic it accepts. `run(pv)` drives a venue through a session that leaves orders,
fills and positions behind (so lists are not empty), calls every route and listens to
every topic, and returns a `Tally` per route or topic: which documented fields were
checked and which were missing or of another JSON type.

A new endpoint needs a fixture copied from Bybit's docs, an entry in `ROUTES` and a call
in `_rest_calls`; without them `unmapped_routes` names it and the test fails.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
from pv_support import (
    ALTERNATIVE_TYPES,
    COIN_MAPS,
    SUB_KEY,
    SUB_SECRET,
    SUB_UID,
    RawClient,
    json_kind,
    load_fixture,
)

from paper_venue.clock import Clock
from paper_venue.config import DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET
from paper_venue.router.app import PaperVenue
from paper_venue.router.auth import sign
from paper_venue.router.rest import all_endpoints
from paper_venue.router.ws_private import ALL_TOPICS
from paper_venue.router.ws_public import TOPIC_KINDS

MASTER_UID = 100000

ROUTES: dict[str, tuple[str, ...]] = {
    "GET /v5/market/kline": ("rest_kline",),
    "GET /v5/market/tickers": ("rest_tickers_linear", "rest_tickers_spot"),
    "GET /v5/market/orderbook": ("rest_orderbook",),
    "GET /v5/market/instruments-info": ("rest_instruments_linear", "rest_instruments_spot"),
    "GET /v5/market/funding/history": ("rest_funding_history",),
    "GET /v5/market/time": ("rest_server_time",),
    "GET /v5/market/recent-trade": ("rest_recent_trade",),
    "POST /v5/order/create": ("rest_order_create",),
    "POST /v5/order/amend": ("rest_order_amend",),
    "POST /v5/order/cancel": ("rest_order_cancel",),
    "POST /v5/order/cancel-all": ("rest_order_cancel_all",),
    "GET /v5/order/realtime": ("rest_order_realtime",),
    "GET /v5/order/history": ("rest_order_history",),
    "GET /v5/execution/list": ("rest_execution_list",),
    "POST /v5/order/disconnected-cancel-all": ("rest_dcp",),
    "GET /v5/account/wallet-balance": ("rest_wallet_balance",),
    "GET /v5/account/fee-rate": ("rest_fee_rate",),
    "GET /v5/account/info": ("rest_account_info",),
    "GET /v5/account/transaction-log": ("rest_transaction_log",),
    "GET /v5/position/list": ("rest_position_list",),
    "POST /v5/position/set-leverage": ("rest_set_leverage",),
    "POST /v5/position/trading-stop": ("rest_trading_stop",),
    "POST /v5/asset/transfer/inter-transfer": ("rest_inter_transfer",),
    "POST /v5/asset/transfer/universal-transfer": ("rest_universal_transfer",),
    "GET /v5/asset/transfer/query-account-coins-balance": ("rest_coins_balance",),
    "GET /v5/asset/transfer/query-inter-transfer-list": ("rest_inter_transfer_list",),
    "GET /v5/asset/transfer/query-universal-transfer-list": ("rest_universal_transfer_list",),
    "GET /v5/asset/coin/query-info": ("rest_coin_info",),
    "POST /v5/user/create-sub-member": ("rest_create_sub_member",),
    "POST /v5/user/create-sub-api": ("rest_create_sub_api",),
    "GET /v5/user/query-sub-members": ("rest_query_sub_members",),
    "GET /v5/user/query-api": ("rest_query_api",),
}
"""Every REST route: the documented examples its answers are checked against."""

TOPICS: dict[str, tuple[str, ...]] = {
    "orderbook": ("ws_orderbook",),
    "tickers": ("ws_ticker_linear", "ws_ticker_spot"),
    "kline": ("ws_kline",),
    "publicTrade": ("ws_public_trade",),
    "order": ("ws_order",),
    "execution": ("ws_execution",),
    "execution.fast": ("ws_execution_fast",),
    "position": ("ws_position",),
    "wallet": ("ws_wallet",),
    "dcp": (),
    "greeks": (),
}
"""Every stream topic (public kinds; private topics without their category suffix)."""

SILENT_TOPICS = {
    "dcp": "Bybit documents no data message (websocket/private/dcp.mdx: subscribe only)",
    "greeks": "options only; the venue lists no options, so Bybit would push nothing either",
}
"""Topics accepted but never pushed, and why; they have no fixture."""

OPS: dict[str, str] = {
    "auth": "ws_auth_success",
    "subscribe private": "ws_subscribe_private",
    "subscribe linear": "ws_subscribe_linear",
    "subscribe spot": "ws_subscribe_spot",
    "ping private": "ws_pong_private",
    "ping linear": "ws_pong_public_linear",
    "ping spot": "ws_pong_public_spot",
    "error envelope": "rest_error",
}
"""Protocol answers (not routes or topics), checked the same way."""

MAY_BE_EMPTY = {"a", "b"}
"""An order-book delta lists only the side(s) that changed (websocket/public/orderbook.mdx)."""
MAY_BE_EMPTY_UNDER = ".permissions."
"""A permission group the key does not hold is `[]` (user/apikey-info.mdx)."""
NOT_FOR_SPOT = {"createType", "tpslMode"}
"""order/open-order, order-list, execution: "Spot does not have this key" (createType),
"Spot does not have this field" (tpslMode)."""
UNLISTED = ("inverse", "option")
"""Categories Bybit serves and the venue lists nothing in: their read routes answer with
Bybit's envelope and an empty list, checked with `empty=True`."""


def unmapped_routes() -> list[str]:
    """Routes the venue serves that `ROUTES` does not check."""
    served = {f"{e.method} {e.path}" for e in all_endpoints()}
    return sorted(served - set(ROUTES))


def unmapped_topics() -> list[str]:
    """Topics the venue accepts that `TOPICS` does not check."""
    private = {_base_topic(t) for t in ALL_TOPICS}
    return sorted((private | set(TOPIC_KINDS)) - set(TOPICS))


def stale_entries() -> list[str]:
    """Entries of `ROUTES`/`TOPICS` the venue no longer serves (the table must follow it)."""
    served = {f"{e.method} {e.path}" for e in all_endpoints()}
    topics = {_base_topic(t) for t in ALL_TOPICS} | set(TOPIC_KINDS)
    return sorted((set(ROUTES) - served) | (set(TOPICS) - topics))


def _base_topic(topic: str) -> str:
    for suffix in (".spot", ".linear", ".inverse", ".option", ".future"):
        if topic.endswith(suffix):
            return topic[: -len(suffix)]
    return topic


# comparing -----------------------------------------------------------------------------


@dataclass
class Tally:
    """What was checked of one route or topic, over every answer seen."""

    answers: int = 0
    checked: set[str] = field(default_factory=set)
    missing: dict[str, str] = field(default_factory=dict)

    def compare(
        self, expected: Any, actual: Any, *, spot: bool = False, empty: bool = False
    ) -> None:
        """Check one answer; `empty`: an answer for a category the venue lists nothing in,
        whose lists are empty (the fields of their entries are then not checked)."""
        self.answers += 1
        self._walk(expected, actual, "$", spot, empty)

    def _walk(self, expected: Any, actual: Any, path: str, spot: bool, empty: bool) -> None:
        name = path.rsplit(".", 1)[-1]
        if json_kind(expected) != json_kind(actual):
            if json_kind(actual) not in ALTERNATIVE_TYPES.get(name, set()):
                self.missing[path] = f"expected {json_kind(expected)}, got {json_kind(actual)}"
            return
        if isinstance(expected, dict) and name in COIN_MAPS:
            kinds = {json_kind(v) for v in expected.values()}
            for coin, value in actual.items():
                self.checked.add(f"{path}.<coin>")
                if json_kind(value) not in kinds:
                    self.missing[f"{path}.{coin}"] = f"expected {kinds}, got {json_kind(value)}"
        elif isinstance(expected, dict):
            for key, value in expected.items():
                sub = f"{path}.{key}"
                if spot and key in NOT_FOR_SPOT:
                    continue
                self.checked.add(sub)
                if key not in actual:
                    self.missing[sub] = "missing"
                else:
                    self._walk(value, actual[key], sub, spot, empty)
        elif isinstance(expected, list) and expected:
            if not actual:
                if not empty and name not in MAY_BE_EMPTY and MAY_BE_EMPTY_UNDER not in path:
                    self.missing[path] = "empty list (documented with entries)"
                return
            row = expected[0]
            for item in actual:
                if isinstance(row, list) and row and not isinstance(row[0], dict | list):
                    self._positional(row, item, f"{path}[]", spot)
                else:
                    self._walk(row, item, f"{path}[]", spot, empty)

    def _positional(self, expected: list[Any], actual: Any, path: str, spot: bool) -> None:
        """A row of positional values (a kline, a book level): same length, same types."""
        if not isinstance(actual, list) or len(actual) != len(expected):
            self.missing[path] = f"expected {len(expected)} values, got {actual!r}"[:120]
            return
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            self.checked.add(f"{path}[{i}]")
            self._walk(e, a, f"{path}[{i}]", spot, False)


def table(tallies: dict[str, Tally]) -> str:
    """Fields checked / missing per route and topic, as printed by the bench script."""
    width = max(len(k) for k in tallies) + 2
    lines = [f"{'endpoint / topic':<{width}}{'answers':>8}{'checked':>9}{'missing':>9}"]
    for name, t in tallies.items():
        lines.append(f"{name:<{width}}{t.answers:>8}{len(t.checked):>9}{len(t.missing):>9}")
    total = Tally()
    for t in tallies.values():
        total.checked |= {f"{id(t)}{c}" for c in t.checked}
        total.missing.update({f"{id(t)}{m}": v for m, v in t.missing.items()})
        total.answers += t.answers
    lines.append(
        f"{'TOTAL':<{width}}{total.answers:>8}{len(total.checked):>9}{len(total.missing):>9}"
    )
    for name, t in tallies.items():
        for path, what in sorted(t.missing.items()):
            lines.append(f"  {name}: {path}: {what}")
    return "\n".join(lines)


# driving the venue -----------------------------------------------------------------------


class Session:
    """Signed REST calls by route, recording each answer against its fixtures."""

    def __init__(self, pv: PaperVenue, http: aiohttp.ClientSession) -> None:
        self.pv = pv
        self.sub = RawClient(pv.http_url, http, SUB_KEY, SUB_SECRET)
        self.master = RawClient(pv.http_url, http, DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET)
        self.tallies: dict[str, Tally] = {}
        self.answers: dict[str, list[dict[str, Any]]] = {}

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        *,
        fixture: str | None = None,
        master: bool = False,
        empty: bool = False,
    ) -> dict[str, Any]:
        client = self.master if master else self.sub
        if method == "GET":
            query = "&".join(f"{k}={v}" for k, v in params.items())
            _, body, _ = await client.get(path, query)
        else:
            await asyncio.sleep(0.002)  # no byte-identical replays (10014)
            _, body, _ = await client.post(path, params)
        assert body["retCode"] == 0, (path, params, body)
        route = f"{method} {path}"
        names = ROUTES[route] if fixture is None else (fixture,)
        spot = params.get("category") == "spot"
        tally = self.tallies.setdefault(route, Tally())
        if empty:
            assert body["result"]["list"] == [], (path, params, body)
        tally.compare(load_fixture(names[0]), body, spot=spot, empty=empty)
        self.answers.setdefault(route, []).append(body)
        return body

    def record(self, label: str, fixture: str, message: dict[str, Any], spot: bool) -> None:
        self.tallies.setdefault(label, Tally()).compare(load_fixture(fixture), message, spot=spot)


def _order(category: str, symbol: str, side: str, kind: str, qty: str, **kw: str) -> dict[str, Any]:
    return {
        "category": category,
        "symbol": symbol,
        "side": side,
        "orderType": kind,
        "qty": qty,
        **kw,
    }


async def _trade(s: Session) -> None:
    """Orders, fills (open, add, partly close), resting orders, a TP/SL, funding."""
    pv = s.pv
    create = "/v5/order/create"
    await s.call("POST", create, _order("linear", "BTCUSDT", "Buy", "Market", "0.02"))
    await s.call("POST", create, _order("linear", "BTCUSDT", "Buy", "Market", "0.01"))
    pv.venue.market.move("BTCUSDT", Decimal("60600"), pv.venue.clock.now_ms())
    pv.venue.update()
    await s.call("POST", create, _order("linear", "BTCUSDT", "Sell", "Market", "0.01"))
    await s.call(
        "POST",
        create,
        _order("linear", "BTCUSDT", "Buy", "Limit", "0.01", price="58000", orderLinkId="rest-1"),
    )
    await s.call(
        "POST",
        create,
        _order("linear", "ETHUSDT", "Sell", "Limit", "0.1", price="3200", orderLinkId="eth-1"),
    )
    await s.call("POST", create, _order("spot", "BTCUSDT", "Buy", "Market", "200"))
    await s.call("POST", create, _order("spot", "BTCUSDT", "Sell", "Market", "0.001"))
    await s.call(
        "POST",
        create,
        _order("spot", "BTCUSDT", "Buy", "Limit", "0.001", price="58000", orderLinkId="spot-1"),
    )
    await s.call(
        "POST",
        "/v5/order/amend",
        {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "rest-1", "price": "58100"},
    )
    await s.call(
        "POST",
        "/v5/order/amend",
        {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "spot-1", "price": "58100"},
    )
    await s.call(
        "POST",
        "/v5/order/cancel",
        {"category": "linear", "symbol": "ETHUSDT", "orderLinkId": "eth-1"},
    )
    await s.call(
        "POST",
        "/v5/position/trading-stop",
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "takeProfit": "70000",
            "stopLoss": "50000",
            "positionIdx": 0,
        },
    )
    await s.call(
        "POST",
        "/v5/position/set-leverage",
        {"category": "linear", "symbol": "BTCUSDT", "buyLeverage": "5", "sellLeverage": "5"},
    )
    clock = pv.venue.clock
    clock.advance(pv.venue.next_funding_ms - clock.now_ms())
    pv.venue.update()


async def _rest_calls(s: Session) -> None:
    """Every read route, on both categories where it has them, and the account routes."""
    for cat in ("linear", "spot"):
        base = {"category": cat, "symbol": "BTCUSDT"}
        await s.call("GET", "/v5/market/kline", {**base, "interval": "1", "limit": 3})
        await s.call("GET", "/v5/market/tickers", {"category": cat}, fixture=f"rest_tickers_{cat}")
        await s.call("GET", "/v5/market/orderbook", {**base, "limit": 5})
        await s.call(
            "GET",
            "/v5/market/instruments-info",
            {"category": cat},
            fixture=f"rest_instruments_{cat}",
        )
        await s.call("GET", "/v5/order/realtime", {**base, "openOnly": 0})
        await s.call("GET", "/v5/order/history", base)
        await s.call("GET", "/v5/execution/list", base)
        await s.call("GET", "/v5/account/fee-rate", base)
        await s.call("GET", "/v5/market/recent-trade", {**base, "limit": 60})
    await s.call("GET", "/v5/market/funding/history", {"category": "linear", "symbol": "BTCUSDT"})
    await s.call("GET", "/v5/market/time", {})
    await s.call("GET", "/v5/position/list", {"category": "linear", "settleCoin": "USDT"})
    await s.call("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
    await s.call("POST", "/v5/order/disconnected-cancel-all", {"timeWindow": 40})
    await s.call(
        "POST",
        "/v5/asset/transfer/inter-transfer",
        {
            "transferId": str(uuid.uuid4()),
            "coin": "USDT",
            "amount": "5",
            "fromAccountType": "UNIFIED",
            "toAccountType": "FUND",
        },
    )
    await s.call(
        "GET",
        "/v5/asset/transfer/query-account-coins-balance",
        {"accountType": "FUND", "coin": "USDT"},
    )
    await s.call(
        "POST",
        "/v5/asset/transfer/universal-transfer",
        {
            "transferId": str(uuid.uuid4()),
            "coin": "USDT",
            "amount": "10",
            "fromMemberId": MASTER_UID,
            "toMemberId": SUB_UID,
            "fromAccountType": "UNIFIED",
            "toAccountType": "UNIFIED",
        },
        master=True,
    )
    sub = await s.call(
        "POST",
        "/v5/user/create-sub-member",
        {"username": "fields01x", "memberType": 1, "note": "fields"},
        master=True,
    )
    await s.call(
        "POST",
        "/v5/user/create-sub-api",
        {"subuid": int(sub["result"]["uid"]), "readOnly": 0, "permissions": {}},
        master=True,
    )
    await s.call("GET", "/v5/user/query-sub-members", {}, master=True)
    await s.call("GET", "/v5/user/query-api", {})
    await s.call("GET", "/v5/account/info", {})
    await s.call("GET", "/v5/asset/coin/query-info", {})
    await s.call("GET", "/v5/asset/transfer/query-inter-transfer-list", {})
    for member in (False, True):  # the subaccount received it, its master sent it
        await s.call("GET", "/v5/asset/transfer/query-universal-transfer-list", {}, master=member)
    log = await s.call("GET", "/v5/account/transaction-log", {"accountType": "UNIFIED"})
    kinds = {e["type"] for e in log["result"]["list"]}
    assert {"TRADE", "SETTLEMENT", "TRANSFER_IN", "TRANSFER_OUT"} <= kinds, kinds
    await _unlisted_calls(s)
    await s.call("POST", "/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"})
    await s.call("POST", "/v5/order/cancel-all", {"category": "spot"})
    _, err, _ = await s.sub.post(
        "/v5/order/create", _order("linear", "BTCUSDT", "Buy", "Market", "-1")
    )
    assert err["retCode"] == 10001, err
    s.record("error envelope", OPS["error envelope"], err, spot=False)


async def _unlisted_calls(s: Session) -> None:
    """The read routes Bybit serves for inverse and option: Bybit's envelope, empty lists."""
    for cat in UNLISTED:
        query = {"category": cat}
        await s.call("GET", "/v5/market/tickers", query, fixture="rest_tickers_linear", empty=True)
        await s.call(
            "GET",
            "/v5/market/instruments-info",
            query,
            fixture="rest_instruments_linear",
            empty=True,
        )
        for path in ("/v5/order/realtime", "/v5/order/history", "/v5/execution/list"):
            await s.call("GET", path, query, empty=True)
        await s.call("GET", "/v5/account/fee-rate", query, empty=True)
        await s.call("GET", "/v5/position/list", query, empty=True)
    await s.call("GET", "/v5/market/recent-trade", {"category": "option"}, empty=True)


# streams ----------------------------------------------------------------------------------


class Listener:
    """One WebSocket connection collecting every message."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(msg.data))

    def ops(self, op: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("op") == op and "topic" not in m]

    def topic(self, base: str) -> list[dict[str, Any]]:
        out = []
        for m in self.messages:
            topic = str(m.get("topic", ""))
            name = topic.split(".")[0] if topic.split(".")[0] in TOPIC_KINDS else topic
            if _base_topic(name) == base:
                out.append(m)
        return out

    async def close(self) -> None:
        await self.ws.close()
        await self.task


async def _until(check: Any, what: str, within: float = 5.0, describe: Any = None) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            detail = f": {describe()}" if describe is not None else ""
            raise AssertionError(f"timed out waiting for {what}{detail}")
        await asyncio.sleep(0.01)


async def _subscribe(listener: Listener, args: Iterable[str], expect: int) -> None:
    await listener.ws.send_json({"op": "subscribe", "args": list(args)})
    await _until(lambda: len(listener.ops("subscribe")) >= expect, "subscribe replies")


async def run(pv: PaperVenue) -> dict[str, Tally]:
    """Drive `pv` through a trading session and check every answer; tallies by route/topic."""
    async with aiohttp.ClientSession() as http:
        s = Session(pv, http)
        linear = Listener(await http.ws_connect(f"{pv.ws_url}/v5/public/linear"))
        spot = Listener(await http.ws_connect(f"{pv.ws_url}/v5/public/spot"))
        private = Listener(await http.ws_connect(f"{pv.ws_url}/v5/private"))
        try:
            expires = Clock.wall_ms() + 10_000
            signature = sign(SUB_SECRET, f"GET/realtime{expires}")
            await private.ws.send_json({"op": "auth", "args": [SUB_KEY, expires, signature]})
            await _until(lambda: bool(private.ops("auth")), "auth")
            public_topics = ["orderbook.50.BTCUSDT", "tickers.BTCUSDT", "kline.1.BTCUSDT"]
            await _subscribe(linear, [*public_topics, "publicTrade.BTCUSDT"], 1)
            await _subscribe(spot, [*public_topics, "publicTrade.BTCUSDT"], 1)
            await _subscribe(private, sorted(t for t in ALL_TOPICS if "." not in t), 1)
            await _subscribe(private, sorted(t for t in ALL_TOPICS if "." in t), 2)
            for listener in (linear, spot, private):
                await listener.ws.send_json({"op": "ping", "req_id": "p1"})
            pv.venue.market.move("BTCUSDT", Decimal("60500"), pv.venue.clock.now_ms())
            pv.venue.update()
            await _trade(s)
            await _rest_calls(s)
            pv.venue.market.move("BTCUSDT", Decimal("60400"), pv.venue.clock.now_ms())
            pv.venue.update()

            def waiting() -> list[str]:
                out = [
                    f"{n} {k}"
                    for n, c in (("linear", linear), ("spot", spot))
                    for k in TOPIC_KINDS
                    if not c.topic(k)
                ]
                out += [
                    t
                    for t in TOPICS
                    if t not in SILENT_TOPICS and t not in TOPIC_KINDS and not private.topic(t)
                ]
                out += [
                    f"pong {i}"
                    for i, c in enumerate((linear, spot, private))
                    if not (c.ops("ping") or c.ops("pong"))
                ]
                return out

            await _until(lambda: not waiting(), "a message on every topic", describe=waiting)
        finally:
            for listener in (linear, spot, private):
                await listener.close()
    _check_streams(s, linear, spot, private)
    return s.tallies


def _check_streams(s: Session, linear: Listener, spot: Listener, private: Listener) -> None:
    for name, listener in (("linear", linear), ("spot", spot)):
        for kind in TOPIC_KINDS:
            fixture = TOPICS[kind][0] if kind != "tickers" else f"ws_ticker_{name}"
            for msg in listener.topic(kind):
                if msg.get("type") == "delta" and kind == "tickers":
                    continue  # a linear ticker delta carries only what changed, as on Bybit
                s.record(f"ws {kind}", fixture, msg, spot=name == "spot")
        s.record(
            f"ws op subscribe ({name})",
            OPS[f"subscribe {name}"],
            listener.ops("subscribe")[0],
            False,
        )
        s.record(f"ws op ping ({name})", OPS[f"ping {name}"], listener.ops("ping")[0], False)
    for topic, fixtures in TOPICS.items():
        if topic in TOPIC_KINDS or topic in SILENT_TOPICS:
            continue
        for msg in private.topic(topic):
            rows = msg.get("data") or []
            spot_rows = [r for r in rows if r.get("category") == "spot"]
            other = [r for r in rows if r.get("category") != "spot"]
            for subset, is_spot in ((spot_rows, True), (other, False)):
                if subset:
                    s.record(f"ws {topic}", fixtures[0], {**msg, "data": subset}, spot=is_spot)
    s.record("ws op auth", OPS["auth"], private.ops("auth")[0], False)
    s.record(
        "ws op subscribe (private)", OPS["subscribe private"], private.ops("subscribe")[0], False
    )
    s.record("ws op ping (private)", OPS["ping private"], private.ops("pong")[0], False)
