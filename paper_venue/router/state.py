"""The venue's state: accounts, orders, executions, prices, time.

`VenueState` owns everything and is only touched from one event loop, and none of its methods
await: each operation is atomic. Listeners (the WebSocket layers) are told about private
events per account and about public market changes after each update.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from decimal import Decimal

from paper_venue.clock import Clock
from paper_venue.config import AccountSeed, VenueSettings
from paper_venue.decimals import floor_to
from paper_venue.errors import BybitError, Code, params_error
from paper_venue.instruments import Category, Instrument, build_instruments
from paper_venue.ledger.accounts import Account, ApiKey, Transfer
from paper_venue.ledger.journal import LedgerEntry
from paper_venue.matching.book import SyntheticBook
from paper_venue.matching.engine import MatchingEngine
from paper_venue.matching.orders import Execution, Order
from paper_venue.router.feed import CandleReplay, PriceSource, RandomWalk, ScriptedPath
from paper_venue.router.market import MINUTE_MS, Market
from paper_venue.router.public_trades import RecentTrades

log = logging.getLogger(__name__)

PrivateListener = Callable[[int, str, list[dict[str, object]]], None]
PublicTradeListener = Callable[[Instrument, Decimal, Decimal, str, int], None]
CLOSED_KEPT = 500
"""Closed orders /v5/order/realtime can still show, per account (Bybit keeps 500)."""
HISTORY_KEPT = 10_000
"""Finished orders kept per account for /v5/order/history; older ones are forgotten."""


class VenueState:
    """All state of the paper exchange; `Venue` adds the heartbeat that moves it."""

    def __init__(self, settings: VenueSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock(
            settings.clock.mode, settings.clock.speed, settings.clock.start_ms
        )
        now = self.clock.now_ms()
        self.started_ms = now
        self.instruments = build_instruments(settings.symbols)
        ticks = {s: self.instruments[(Category.LINEAR, s)].tick_size for s in settings.symbols}
        self.source = self._make_source(settings, now, ticks)
        steps = {s: self.instruments[(Category.LINEAR, s)].qty_step for s in settings.symbols}
        self.market = Market(
            self.source, ticks, now, settings.feed.backfill_minutes,
            settings.feed.trade_notional_usdt, steps,
        )  # fmt: skip
        self.book = SyntheticBook(settings.book)
        self.accounts: dict[int, Account] = {}
        self.keys: dict[str, ApiKey] = {}
        self.orders: dict[str, Order] = {}
        self.by_link: dict[tuple[int, str], str] = {}
        self._open: dict[int, dict[str, Order]] = {}
        self.engines = {
            key: MatchingEngine(inst, self.book) for key, inst in self.instruments.items()
        }
        """One matching engine per listed instrument, in listing order."""
        self.closed: dict[int, deque[Order]] = {}
        self.history: dict[int, deque[Order]] = {}
        self.executions: dict[int, deque[Execution]] = {}
        self.transfers: dict[str, Transfer] = {}
        self.ledger: dict[int, deque[LedgerEntry]] = {}
        self.funding_history: dict[str, list[tuple[int, Decimal]]] = {
            s: [] for s in settings.symbols
        }
        self.funding_index: dict[str, int] = {s: 0 for s in settings.symbols}
        interval = settings.funding.interval_hours * 3_600_000
        self.next_funding_ms = (now // interval + 1) * interval
        self.private_listeners: list[PrivateListener] = []
        self.private_interest: list[Callable[[int], bool]] = []
        self.trade_listeners: list[PublicTradeListener] = []
        self.tick_listeners: list[Callable[[list[str]], None]] = []
        self.dcp_deadlines: dict[int, int] = {}
        self._seq = itertools.count(1_000_000)
        self._spot_ids = itertools.count(1_900_000_000_000_000_000 + now)
        self._uids = itertools.count(200_000)
        self._key_ids = itertools.count(1)
        self.recent_trades = RecentTrades(self.next_seq, 2_100_000_000_000_000_000 + now)
        self.trade_listeners.append(self.recent_trades.record)
        self._refresh_books()
        self._bootstrap(settings)

    # construction ---------------------------------------------------------------------

    @staticmethod
    def _make_source(settings: VenueSettings, now: int, ticks: dict[str, Decimal]) -> PriceSource:
        feed = settings.feed
        origin = now - feed.backfill_minutes * MINUTE_MS
        missing = set(settings.symbols) - set(feed.initial_prices)
        if feed.kind == "candles":
            replay = CandleReplay(feed, origin, ticks)
            missing = set(settings.symbols) - set(replay.symbols())
            if missing:
                raise ValueError(f"candle file has no data for {sorted(missing)}")
            return replay
        if missing:
            raise ValueError(f"feed.initial_prices lacks {sorted(missing)}")
        if feed.kind == "scripted":
            return ScriptedPath(feed, now, ticks)
        return RandomWalk(feed, settings.seed, origin, ticks)

    def _bootstrap(self, settings: VenueSettings) -> None:
        accounts = settings.resolved_accounts()
        master = self.add_account(accounts.master, is_master=True, parent=None)
        for seed in accounts.subaccounts:
            self.add_account(seed, is_master=False, parent=master.uid)

    def add_account(self, seed: AccountSeed, *, is_master: bool, parent: int | None) -> Account:
        """Create an account with its keys and balances (config bootstrap and admin API)."""
        uid = seed.uid if seed.uid is not None else self._free_uid()
        if uid in self.accounts:
            raise params_error(f"uid {uid} exists")
        if any(a.username == seed.username for a in self.accounts.values()):
            raise params_error(f"username {seed.username} exists")
        acct = Account(uid, seed.username, is_master, parent, self.clock.now_ms())
        acct.unified.update({c: Decimal(v) for c, v in seed.balances.items()})
        self.accounts[uid] = acct
        for k in seed.keys:
            self.add_key(uid, k.key, k.secret, read_only=k.read_only)
        return acct

    def _free_uid(self) -> int:
        uid = next(self._uids)
        while uid in self.accounts:
            uid = next(self._uids)
        return uid

    def reseed_ids(self) -> None:
        """After a restore: new ids continue past every restored one."""
        spot_ids = [int(o.order_id) for o in self.orders.values() if o.order_id.isdigit()]
        floor = max(spot_ids, default=0) + 1
        self._spot_ids = itertools.count(max(floor, next(self._spot_ids)))
        self._uids = itertools.count(max([200_000, *(u + 1 for u in self.accounts)]))
        self._key_ids = itertools.count(max([0, *(k.key_id for k in self.keys.values())]) + 1)

    def add_key(
        self, uid: int, key: str, secret: str, *, read_only: bool, note: str = ""
    ) -> ApiKey:
        if key in self.keys:
            raise params_error("api key exists")
        api_key = ApiKey(
            key, secret, uid, read_only, note, self.clock.now_ms(), next(self._key_ids)
        )
        self.keys[key] = api_key
        return api_key

    def master_uid(self) -> int:
        return next(a.uid for a in self.accounts.values() if a.is_master)

    # lookups ----------------------------------------------------------------------------

    def instrument(self, category: Category, symbol: str) -> Instrument:
        inst = self.instruments.get((category, symbol))
        if inst is None:
            if category is Category.SPOT:
                raise BybitError(Code.SPOT_INVALID_SYMBOL)
            raise params_error("symbol invalid")
        return inst

    def account(self, uid: int) -> Account:
        return self.accounts[uid]

    def default_leverage(self, inst: Instrument) -> Decimal:
        return min(Decimal(10), inst.max_leverage)

    def open_orders(self, uid: int) -> Iterator[Order]:
        return iter(list(self._open.get(uid, {}).values()))

    def find_order(self, uid: int, order_id: str | None, link_id: str | None) -> Order | None:
        if order_id:
            order = self.orders.get(order_id)
            return order if order is not None and order.uid == uid else None
        if link_id:
            oid = self.by_link.get((uid, link_id))
            return self.orders.get(oid) if oid else None
        return None

    # ids and events -------------------------------------------------------------------

    def next_seq(self) -> int:
        return next(self._seq)

    def new_order_id(self, category: Category) -> str:
        if category is Category.SPOT:
            return str(next(self._spot_ids))
        return str(uuid.uuid4())

    def listening(self, uid: int) -> bool:
        """Whether anyone wants this account's private events (building them is not free).
        Listeners that registered no interest hook are assumed to want everything."""
        if not self.private_listeners:
            return False
        if len(self.private_interest) < len(self.private_listeners):
            return True
        return any(wants(uid) for wants in self.private_interest)

    def emit(self, uid: int, topic: str, rows: list[dict[str, object]]) -> None:
        for listener in self.private_listeners:
            listener(uid, topic, rows)

    # order book keeping ---------------------------------------------------------------

    def register(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if order.order_link_id:
            self.by_link[(order.uid, order.order_link_id)] = order.order_id
        if order.status.is_open:
            self._open.setdefault(order.uid, {})[order.order_id] = order

    def engine(self, inst: Instrument) -> MatchingEngine:
        """The instrument's matching engine."""
        return self.engines[(inst.category, inst.symbol)]

    def rest(self, order: Order) -> None:
        self.engine(order.inst).rest(order)

    def finish(self, order: Order) -> None:
        """Move a no-longer-open order out of the open sets, keeping it for queries."""
        self._open.get(order.uid, {}).pop(order.order_id, None)
        self.engine(order.inst).remove(order)
        self.closed.setdefault(order.uid, deque(maxlen=CLOSED_KEPT)).appendleft(order)
        history = self.history.setdefault(order.uid, deque(maxlen=HISTORY_KEPT))
        if len(history) == history.maxlen:
            old = history.pop()
            self.orders.pop(old.order_id, None)
            if old.order_link_id:
                self.by_link.pop((old.uid, old.order_link_id), None)
        history.appendleft(order)

    def resting(self, category: Category, symbol: str) -> list[Order]:
        return list(self.engines[(category, symbol)].resting.values())

    def record_execution(self, ex: Execution) -> None:
        self.executions.setdefault(ex.uid, deque(maxlen=10_000)).appendleft(ex)

    def _refresh_books(self) -> None:
        for inst in self.instruments.values():
            self.book.refresh(inst, self.market.price(inst.symbol))

    # heartbeat helpers ----------------------------------------------------------------

    def publish_market_trades(self, moved: list[str], now: int) -> None:
        """The synthetic market trade behind each price change, on both categories' streams."""
        if not self.trade_listeners:
            return
        for symbol in moved:
            trade = self.market.states[symbol].synthetic_trade
            if trade is None:
                continue
            qty, side = trade
            price = self.market.price(symbol)
            for category in (Category.SPOT, Category.LINEAR):
                inst = self.instruments[(category, symbol)]
                for listener in self.trade_listeners:
                    listener(inst, price, floor_to(qty, inst.qty_step) or inst.qty_step, side, now)

    def funding_rate(self, symbol: str, index: int | None = None) -> Decimal:
        """Rate of the settlement number `index` (the next one by default)."""
        series = self.settings.funding.series.get(symbol)
        i = self.funding_index[symbol] if index is None else index
        if not series:
            return self.settings.funding.rate
        return Decimal(series[min(i, len(series) - 1)])
