"""GRID: the ladder arithmetic, instrument and crossing checks, counter-orders, profit per level,
each recentre trigger, inventory and exposure limits, and governance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal as D

import pytest

from conftest import Harness
from engine_runtime.strategies import grid_rules as gr
from engine_runtime.strategies.grid import GridState, GridStrategy
from engine_runtime.strategies.interface import (
    BookLevel,
    CancelOrder,
    Category,
    GovernanceDirective,
    Intent,
    OrderBook,
    OrderEvent,
    OrderStatus,
    OrderType,
    PerpPosition,
    Side,
    SubmitOrder,
)
from eternal_kernel.api.v1alpha1.strategy_params import GridParams
from eternal_kernel.model.instruments import Instrument

pytestmark = pytest.mark.unit
S, L = Category.SPOT, Category.LINEAR
HOUR = 3_600_000
INST = Instrument(
    symbol="BTCUSDT",
    category=L,
    base_coin="BTC",
    quote_coin="USDT",
    tick_size=D("0.1"),
    qty_step=D("0.001"),
    min_qty=D("0.001"),
    max_qty=D("100"),
    min_notional=D("5"),
)


# --- the arithmetic -------------------------------------------------------------------------


def test_ladder_levels_and_spacing() -> None:
    rungs = gr.ladder(D(100), D(1), 3)
    assert [(k, s, p) for k, s, p in rungs if s is Side.BUY] == [
        (-1, Side.BUY, D(99)), (-2, Side.BUY, D(98)), (-3, Side.BUY, D(97)),
    ]  # fmt: skip
    assert [p for _, s, p in rungs if s is Side.SELL] == [D(101), D(102), D(103)]
    assert gr.spacing_of(D(200), "percent", D("0.005"), float("nan"), D(1)) == D("1.000")
    assert gr.spacing_of(D(200), "atr", D("0.005"), 2.5, D(2)) == D("5.0")
    assert gr.spacing_of(D(200), "atr", D("0.005"), float("nan"), D(2)) is None  # warming up


def test_level_quantity_splits_the_budget() -> None:
    assert gr.level_qty(D(10000), D("0.8"), 5, D(100)) == D(8)  # 8000 / 10 / 100


def test_orders_are_rounded_and_checked_against_the_instrument() -> None:
    assert gr.validated(INST, Side.BUY, D("99.97"), D("0.0567")) == (D("99.9"), D("0.056"))
    assert gr.validated(INST, Side.SELL, D("100.01"), D("0.0567")) == (D("100.1"), D("0.056"))
    assert "below the minimum" in str(gr.validated(INST, Side.BUY, D(100), D("0.0004")))
    assert "notional" in str(gr.validated(INST, Side.BUY, D(100), D("0.049")))  # 4.9 < 5


def test_a_post_only_that_would_cross_the_touch_is_recognised() -> None:
    bid, ask = D("99.9"), D("100.1")
    assert gr.crosses(Side.BUY, D("100.1"), bid, ask)
    assert not gr.crosses(Side.BUY, D(100), bid, ask)
    assert gr.crosses(Side.SELL, D("99.9"), bid, ask)
    assert not gr.crosses(Side.SELL, D(100), bid, ask)
    book = OrderBook("BTCUSDT", S, (BookLevel(bid, D(1)),), (BookLevel(ask, D(1)),), 1, 1, 0)
    assert gr.touch(book, D(50)) == (bid, ask)
    assert gr.touch(None, D(50)) == (D(50), D(50))


def test_inventory_and_exposure_limits() -> None:
    kw = {"equity": D(10000), "max_inventory": D("0.5"), "max_exposure": D("0.8")}
    # long 50 x 100 = half the equity: no more buys; a sell reduces and may go
    assert gr.within_limits(side=Side.BUY, qty=D(1), price=D(100), position=D(50),
                            working_same_side=D(0), **kw) == "inventory"  # fmt: skip
    assert gr.within_limits(side=Side.SELL, qty=D(1), price=D(100), position=D(50),
                            working_same_side=D(0), **kw) is None  # fmt: skip
    # long 40 and 39 working buys: one more would make 80 units = 8000 > 0.8 x 10000
    assert gr.within_limits(side=Side.BUY, qty=D(2), price=D(100), position=D(40),
                            working_same_side=D(39), **kw) == "exposure"  # fmt: skip
    assert gr.within_limits(side=Side.BUY, qty=D(1), price=D(100), position=D(40),
                            working_same_side=D(39), **kw) is None  # fmt: skip
    # short: sells add to it
    assert gr.within_limits(side=Side.SELL, qty=D(1), price=D(100), position=D(-60),
                            working_same_side=D(0), **kw) == "inventory"  # fmt: skip


def _trend() -> gr.Trend:
    return gr.Trend(dominance_ms=10 * HOUR, pump_ms=HOUR)


def _reason(price: str, now: int = HOUR, trend: gr.Trend | None = None) -> str | None:
    return gr.recentre_reason(
        now_ms=now, price=D(price), lowest_buy=D(90), highest_sell=D(110), built_ms=0,
        trend=trend or _trend(), margin=D("0.02"), max_age_ms=24 * HOUR,
        dominance=D("0.8"), pump_move=D("0.05"),
    )  # fmt: skip


def test_each_recentre_trigger() -> None:
    assert _reason("112.1") is None  # 110 x 1.02 = 112.2: not yet beyond
    assert _reason("112.3") == "out-of-range"
    assert _reason("88.1") == "out-of-range"
    assert _reason("100", now=24 * HOUR) == "max-age"
    assert _reason("100", now=24 * HOUR - 1) is None
    pump = _trend()
    pump.add(0, 100.0, 100.0)
    pump.add(30 * 60_000, 105.1, 100.0)
    assert _reason("105.1", now=30 * 60_000, trend=pump) == "pump-dump"
    old = _trend()
    old.add(0, 100.0, 100.0)
    old.add(HOUR + 60_000, 105.1, 100.0)  # the 100 left the 1 h window
    assert _reason("105.1", now=HOUR + 60_000, trend=old) is None
    side = _trend()
    for minute in range(0, 10 * 60, 10):  # 10 h, above the centre 5 of every 6 samples
        side.add(minute * 60_000, 101.0 if minute % 60 else 99.0, 100.0)
    assert side.one_side_share() == pytest.approx(50 / 60)
    assert _reason("101", now=10 * HOUR - 1, trend=side) is None  # the window is not full yet
    side.add(10 * HOUR, 101.0, 100.0)
    assert _reason("101", now=10 * HOUR, trend=side) == "one-side"


# --- the strategy ---------------------------------------------------------------------------


def _grid(category: Category = L, **params: object) -> GridStrategy:
    p = GridParams(**{"category": category.value, "levels": 3, "spacing_pct": D("0.01"), **params})
    strat = GridStrategy(params=p)
    strat.bind_instruments({("BTCUSDT", category): replace(INST, category=category)})
    return strat


def _bar(h: Harness, close: float, minutes: int = 1) -> None:
    h.market.now_ms += minutes * 60_000
    h.market.set("BTCUSDT", S, close=close)
    h.market.set("BTCUSDT", L, close=close)


def _orders(intents: Sequence[Intent]) -> list[SubmitOrder]:
    return [i for i in intents if isinstance(i, SubmitOrder)]


def _fill(order: SubmitOrder, fee: str = "0", qty: D | None = None) -> OrderEvent:
    return OrderEvent(
        order.intent_id, order.symbol, order.category, order.side, OrderStatus.FILLED,
        qty if qty is not None else order.qty or D(0), order.price or D(0), D(fee), 0,
    )  # fmt: skip


def test_first_bar_places_a_valid_post_only_ladder(harness: Harness) -> None:
    strat = _grid()
    _bar(harness, 100.0)
    orders = _orders(strat.on_bar(harness.ctx))
    assert sorted((o.side, o.price) for o in orders) == [
        (Side.BUY, D(97)), (Side.BUY, D(98)), (Side.BUY, D(99)),
        (Side.SELL, D(101)), (Side.SELL, D(102)), (Side.SELL, D(103)),
    ]  # fmt: skip
    assert all(o.post_only and o.order_type is OrderType.LIMIT for o in orders)
    # 10000 x 0.8 / 6 per level, over the level's price, down to the 0.001 step
    assert orders[0].qty == D("13.468")  # 1333.33 / 99
    assert len({o.intent_id for o in orders}) == 6
    assert strat.state is GridState.ACTIVE
    (record,) = strat.take_recentres()
    assert (record.reason, record.centre, record.lowest_buy, record.highest_sell) == (
        "start", D(100), D(97), D(103),
    )  # fmt: skip
    assert strat.take_recentres() == []


def test_spot_grid_sells_only_what_it_holds(harness: Harness) -> None:
    strat = _grid(S)
    _bar(harness, 100.0)
    orders = _orders(strat.on_bar(harness.ctx))
    assert {o.side for o in orders} == {Side.BUY}
    assert strat.skipped["instrument"] == 3  # nothing to sell: below the minimum quantity
    harness.portfolio.spot["BTCUSDT"] = D("20")
    _bar(harness, 100.0)
    sells = _orders(strat.on_bar(harness.ctx))  # the missing levels are retried
    assert [(o.side, o.price) for o in sells][:1] == [(Side.SELL, D(101))]
    assert sum((o.qty or D(0) for o in sells), D(0)) <= D(20)


def test_a_fill_places_the_opposite_level_and_books_the_round_trip(harness: Harness) -> None:
    strat = _grid()
    _bar(harness, 100.0)
    ladder = _orders(strat.on_bar(harness.ctx))
    buy = next(o for o in ladder if o.price == D(99))
    (sell,) = _orders(strat.on_order_event(harness.ctx, _fill(buy, fee="0.5")))
    assert (sell.side, sell.price, sell.qty, sell.post_only) == (Side.SELL, D(100), buy.qty, True)
    (again,) = _orders(strat.on_order_event(harness.ctx, _fill(sell, fee="0.5")))
    assert (again.side, again.price) == (Side.BUY, D(99))
    gain = (D(100) - D(99)) * (buy.qty or D(0)) - D(1)
    assert strat.profit_by_level == {-1: gain}
    assert strat.realized == gain
    # the level's next round trip is booked too
    (sell2,) = _orders(strat.on_order_event(harness.ctx, _fill(again, fee="0.5")))
    assert (sell2.side, sell2.price) == (Side.SELL, D(100))
    _orders(strat.on_order_event(harness.ctx, _fill(sell2, fee="0.5")))
    assert strat.profit_by_level == {-1: 2 * gain}


def test_spot_counter_sell_keeps_back_the_base_coin_fee(harness: Harness) -> None:
    strat = _grid(S)
    _bar(harness, 100.0)
    buy = _orders(strat.on_bar(harness.ctx))[0]
    harness.portfolio.spot["BTCUSDT"] = D(100)
    (sell,) = _orders(strat.on_order_event(harness.ctx, _fill(buy, qty=D(10))))
    assert sell.qty == D("9.99")


def test_a_counter_order_that_would_cross_the_book_waits(harness: Harness) -> None:
    strat = _grid()
    _bar(harness, 100.0)
    buy = next(o for o in _orders(strat.on_bar(harness.ctx)) if o.price == D(99))
    # the book has run up: the sell at 100 would hit the bid at 100.2
    bid = BookLevel(D("100.2"), D(1))
    ask = BookLevel(D("100.3"), D(1))
    harness.market.books[("BTCUSDT", L)] = OrderBook("BTCUSDT", L, (bid,), (ask,), 1, 1, 0)
    assert strat.on_order_event(harness.ctx, _fill(buy)) == []
    assert strat.skipped["crossing"] == 1
    assert strat.retry == {0: Side.SELL}
    del harness.market.books[("BTCUSDT", L)]
    _bar(harness, 99.5)
    (sell,) = _orders(strat.on_bar(harness.ctx))
    assert (sell.side, sell.price, sell.qty) == (Side.SELL, D(100), buy.qty)
    strat.on_order_event(harness.ctx, _fill(sell))  # still closes the buy's lot
    assert strat.profit_by_level == {-1: (D(100) - D(99)) * (buy.qty or D(0))}


def test_a_venue_rejection_is_retried_on_a_later_bar(harness: Harness) -> None:
    strat = _grid()
    _bar(harness, 100.0)
    buy = next(o for o in _orders(strat.on_bar(harness.ctx)) if o.price == D(99))
    # Bybit cancels a PostOnly that would cross (status Cancelled, EC_PostOnlyWillTakeLiquidity)
    refused = OrderEvent(buy.intent_id, "BTCUSDT", L, Side.BUY, OrderStatus.CANCELLED,
                         D(0), D(0), D(0), 0, "EC_PostOnlyWillTakeLiquidity")  # fmt: skip
    assert strat.on_order_event(harness.ctx, refused) == []
    assert strat.skipped["venue-refused"] == 1
    _bar(harness, 98.95)  # now 99 would cross the last price
    assert _orders(strat.on_bar(harness.ctx)) == []
    _bar(harness, 99.5)
    (again,) = _orders(strat.on_bar(harness.ctx))
    assert (again.side, again.price) == (Side.BUY, D(99))


def test_leaving_the_ladder_cancels_everything_and_rebuilds(harness: Harness) -> None:
    strat = _grid()
    _bar(harness, 100.0)
    first = _orders(strat.on_bar(harness.ctx))
    strat.take_recentres()
    _bar(harness, 105.1)  # beyond 103 x 1.02
    out = strat.on_bar(harness.ctx)
    cancels = [i for i in out if isinstance(i, CancelOrder)]
    assert sorted(c.target_intent_id for c in cancels) == sorted(o.intent_id for o in first)
    assert min(o.price or 0 for o in _orders(out)) == D("101.9")  # 105.1 - 3 x 1.051, tick down
    (record,) = strat.take_recentres()
    assert (record.reason, record.centre, record.generation) == ("out-of-range", D("105.1"), 2)


def test_the_ladder_is_rebuilt_at_its_maximum_age(harness: Harness) -> None:
    strat = _grid(max_age_hours=2)
    _bar(harness, 100.0)
    strat.on_bar(harness.ctx)
    for _ in range(119):
        _bar(harness, 100.0)
        assert strat.on_bar(harness.ctx) == []
    _bar(harness, 100.0)
    assert any(isinstance(i, CancelOrder) for i in strat.on_bar(harness.ctx))
    assert [r.reason for r in strat.take_recentres()] == ["start", "max-age"]


def test_a_pump_recentres_inside_a_wide_ladder(harness: Harness) -> None:
    strat = _grid(levels=3, spacing_pct=D("0.03"), pump_move=D("0.05"))
    _bar(harness, 100.0)
    strat.on_bar(harness.ctx)
    _bar(harness, 103.0, minutes=20)
    strat.on_bar(harness.ctx)
    _bar(harness, 105.2, minutes=20)  # +5.2% from the window's low, still inside 109 x 1.02
    strat.on_bar(harness.ctx)
    assert [r.reason for r in strat.take_recentres()] == ["start", "pump-dump"]


def test_one_side_for_most_of_the_window_recentres(harness: Harness) -> None:
    strat = _grid(dominance_hours=2, dominance_fraction=D("0.8"))
    _bar(harness, 100.0)
    strat.on_bar(harness.ctx)
    reasons: list[str] = []
    for _ in range(120):
        _bar(harness, 100.6)  # above the centre, inside the first spacing
        strat.on_bar(harness.ctx)
        reasons += [r.reason for r in strat.take_recentres()]
    assert reasons == ["start", "one-side"]


def test_inventory_limit_stops_new_buys_but_not_sells(harness: Harness) -> None:
    strat = _grid(max_inventory=D("0.3"))
    # 31 units, valued at the buy levels (99 .. 97), are above 0.3 x 10000
    harness.portfolio.perps["BTCUSDT"] = PerpPosition(D(31), D(100), None)
    _bar(harness, 100.0)
    orders = _orders(strat.on_bar(harness.ctx))
    assert {o.side for o in orders} == {Side.SELL}
    assert strat.skipped["inventory"] == 3


def test_exposure_limit_counts_working_orders(harness: Harness) -> None:
    strat = _grid(levels=5, spacing_pct=D("0.01"), budget_fraction=D(1),
                  max_inventory=D("0.2"), max_exposure=D("0.25"))  # fmt: skip
    _bar(harness, 100.0)
    buys = [o for o in _orders(strat.on_bar(harness.ctx)) if o.side is Side.BUY]
    # each level is 1000 USDT; 2500 of exposure allows two working buys
    assert len(buys) == 2
    assert strat.skipped["exposure"] == 6  # 3 buys and 3 sells


def test_the_runtime_cuts_levels_and_the_grid_books_what_it_will_send(harness: Harness) -> None:
    """The grid orders its full level (the runtime applies the multiplier once, at send time)
    and counts against its limits the quantity ``admit`` lets through, not the one it asked."""
    full, half = _grid(), _grid()
    _bar(harness, 100.0)
    q_full = _orders(full.on_bar(harness.ctx))[0].qty
    harness.directive = GovernanceDirective(level=1, size_multiplier=D("0.5"))
    first = _orders(half.on_bar(harness.ctx))[0]
    assert q_full == first.qty == D("13.468")
    assert half.working[first.intent_id].qty == D("6.734")  # what governance lets through
    assert full.working[next(iter(full.working))].qty == D("13.468")


def test_paused_entries_stop_buys_while_sells_reduce_inventory(harness: Harness) -> None:
    strat = _grid(S)
    harness.portfolio.spot["BTCUSDT"] = D(30)
    harness.directive = GovernanceDirective(level=2, entries_paused=True)
    _bar(harness, 100.0)
    orders = _orders(strat.on_bar(harness.ctx))
    assert orders
    assert {o.side for o in orders} == {Side.SELL}
    assert strat.skipped["entries-paused"] == 3


@pytest.mark.parametrize("flag", ["halt", "close_directional"])
def test_halt_and_close_directional_cancel_the_ladder_and_close(
    harness: Harness, flag: str
) -> None:
    strat = _grid()
    _bar(harness, 100.0)
    ladder = _orders(strat.on_bar(harness.ctx))
    harness.portfolio.perps["BTCUSDT"] = PerpPosition(D("-2.5"), D(100), None)
    harness.directive = GovernanceDirective(level=4, **{flag: True})
    _bar(harness, 100.0)
    out = strat.on_bar(harness.ctx)
    assert {i.target_intent_id for i in out if isinstance(i, CancelOrder)} == {
        o.intent_id for o in ladder
    }
    (close,) = _orders(out)
    assert (close.side, close.order_type, close.qty, close.reduce_only) == (
        Side.BUY, OrderType.MARKET, D("2.5"), True,
    )  # fmt: skip
    assert strat.state is GridState.STOPPED
    _bar(harness, 100.0)
    assert strat.on_bar(harness.ctx) == []  # stays stopped while it is in force
    harness.directive = GovernanceDirective()
    harness.portfolio.perps.clear()
    _bar(harness, 100.0)
    assert len(_orders(strat.on_bar(harness.ctx))) == 6  # lifted: a fresh ladder
    assert [r.reason for r in strat.take_recentres()] == ["start", "start"]


def test_the_params_cross_checks() -> None:
    with pytest.raises(ValueError, match="spacingPct"):
        GridParams(levels=20, spacing_pct=D("0.05"))
    with pytest.raises(ValueError, match="maxInventory"):
        GridParams(max_inventory=D("0.9"), max_exposure=D("0.5"))
