"""SCALPER's rules one by one: imbalance, volume spike, spread, momentum, maker entry and its
timeout, take-profit / stop-loss / maximum holding exits, cooldown, one position, governance."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from conftest import Harness
from engine_runtime.strategies.interface import (
    BookLevel,
    CancelOrder,
    Category,
    GovernanceDirective,
    OrderBook,
    OrderEvent,
    OrderStatus,
    OrderType,
    PerpPosition,
    PublicTrade,
    Side,
    SubmitOrder,
    TimerEvent,
)
from engine_runtime.strategies.registry import create_strategy
from engine_runtime.strategies.scalper import (
    ScalperState,
    ScalperStrategy,
    VolumeWindow,
    imbalance,
    spread_bps,
)
from eternal_kernel.api.v1alpha1.strategy_params import ScalperParams, StrategyParams

pytestmark = pytest.mark.unit

L = Category.LINEAR
SYM = "BTCUSDT"
T0 = 1_700_000_000_000


def book(bid_size: str = "3", ask_size: str = "1", bid: str = "60000.0", ask: str = "60000.1",
         ts: int = T0, levels: int = 5) -> OrderBook:  # fmt: skip
    tick = D("0.1")
    bids = tuple(BookLevel(D(bid) - tick * i, D(bid_size)) for i in range(levels))
    asks = tuple(BookLevel(D(ask) + tick * i, D(ask_size)) for i in range(levels))
    return OrderBook(SYM, L, bids, asks, 1, 1, ts)


def params(**overrides: object) -> ScalperParams:
    base: dict[str, object] = {
        "volume_window_seconds": 1,
        "volume_baseline_windows": 3,
        "momentum": "none",
        "entry_timeout_seconds": 5,
        "max_holding_seconds": 60,
        "cooldown_seconds": 30,
    }
    return ScalperParams(**{**base, **overrides})


def quiet_then_spike(s: ScalperStrategy, h: Harness, at: int = T0) -> None:
    """Three windows of 1 BTC a second, then 5 BTC in the last second: a 5x spike at ``at``."""
    for k in range(4, 1, -1):
        s.on_trade(h.ctx, PublicTrade(SYM, L, "q", Side.BUY, D("60000"), D(1), at - 1000 * k))
    s.on_trade(h.ctx, PublicTrade(SYM, L, "s", Side.BUY, D("60000"), D(5), at - 10))
    h.market.now_ms = at


def test_imbalance_and_spread_of_a_book() -> None:
    b = book("3", "2")
    assert imbalance(b, 5) == pytest.approx(1.5)
    assert imbalance(b, 1) == pytest.approx(1.5)
    assert spread_bps(b) == pytest.approx(0.1 / 60000.05 * 10_000)
    empty = OrderBook(SYM, L, (), book().asks, 1, 1, T0)
    assert imbalance(empty, 5) is None
    assert spread_bps(empty) is None


def test_volume_window_spike_against_the_rolling_mean() -> None:
    tape = VolumeWindow(window_ms=1000, baseline_windows=3)
    for k in range(3):
        tape.add(T0 + 1000 * k, D(1))
    tape.add(T0 + 3100, D("2.9"))
    assert tape.baseline(T0 + 3500) is None  # two windows ended before the last second began
    assert tape.baseline(T0 + 4000) == D(1)
    assert not tape.spike(T0 + 4000, D(3))  # 2.9 in the last second < 3 x 1
    tape.add(T0 + 4000, D("0.1"))
    assert tape.spike(T0 + 4000, D(3))  # 3.0 in the last second
    assert tape.spike(T0 + 4050, D(3))  # the window 2.9 fell in is not part of the baseline
    assert not tape.spike(T0 + 5000, D(3))  # the spike left the sliding window
    tape.add(T0 + 9000, D(1))  # windows without trades count as zero volume
    assert tape.baseline(T0 + 9000) == D(0)


def test_entry_needs_every_filter(harness: Harness) -> None:
    fresh = ScalperStrategy(params=params(), symbols=(SYM,))
    assert fresh.on_book(harness.ctx, book("3", "1")) == ()  # imbalance, but no tape baseline
    s = ScalperStrategy(params=params(), symbols=(SYM,))
    quiet_then_spike(s, harness)
    assert s.on_book(harness.ctx, book("1.4", "1")) == ()  # ratio 1.4 < 1.5
    wide = book("3", "1", bid="60000.0", ask="60060.0")  # 10 bps spread
    assert s.on_book(harness.ctx, wide) == ()
    (order,) = s.on_book(harness.ctx, book("3", "1"))
    assert isinstance(order, SubmitOrder)
    assert (order.side, order.order_type, order.post_only) == (Side.BUY, OrderType.LIMIT, True)
    assert order.price == D("60000.0")  # joins the bid: maker
    # risk per trade 0.5% of 10000 at a 10-tick (1 USDT) stop = 50 BTC, capped at 20% of equity
    assert order.qty == D("0.033")
    assert s.slots[SYM].state is ScalperState.ENTERING
    assert s.on_book(harness.ctx, book("3", "1")) == ()  # one entry / position per symbol


def test_short_mirror_and_allow_short(harness: Harness) -> None:
    s = ScalperStrategy(params=params(), symbols=(SYM,))
    quiet_then_spike(s, harness)
    (order,) = s.on_book(harness.ctx, book("1", "3"))
    assert isinstance(order, SubmitOrder)
    assert (order.side, order.price) == (Side.SELL, D("60000.1"))
    s2 = ScalperStrategy(params=params(allow_short=False), symbols=(SYM,))
    quiet_then_spike(s2, harness)
    assert s2.on_book(harness.ctx, book("1", "3")) == ()


def test_momentum_confirmation(harness: Harness) -> None:
    s = ScalperStrategy(params=params(momentum="rsi", rsi_threshold=55), symbols=(SYM,))
    quiet_then_spike(s, harness)
    assert s.on_book(harness.ctx, book("3", "1")) == ()  # no RSI yet
    harness.market.set(SYM, L, rsi=50.0)
    assert s.on_book(harness.ctx, book("3", "1")) == ()
    harness.market.set(SYM, L, rsi=60.0)
    assert len(s.on_book(harness.ctx, book("3", "1"))) == 1
    e = ScalperStrategy(params=params(momentum="ema"), symbols=(SYM,))
    quiet_then_spike(e, harness)
    harness.market.set(SYM, L, close=59990.0, ema=60000.0)
    assert e.on_book(harness.ctx, book("3", "1")) == ()  # close below its EMA: no long
    assert len(e.on_book(harness.ctx, book("1", "3"))) == 1  # ... but a short


def enter_and_fill(s: ScalperStrategy, h: Harness, price: str = "60000.0") -> str:
    quiet_then_spike(s, h)
    (order,) = s.on_book(h.ctx, book("3", "1"))
    assert isinstance(order, SubmitOrder)
    assert order.qty is not None
    fill = OrderEvent(order.intent_id, SYM, L, Side.BUY, OrderStatus.FILLED, order.qty, D(price),
                      D(0), h.market.now_ms)  # fmt: skip
    assert s.on_order_event(h.ctx, fill) == ()
    h.portfolio.perps[SYM] = PerpPosition(order.qty, D(price), None)
    return order.intent_id


def test_entry_cancelled_after_the_timeout(harness: Harness) -> None:
    s = ScalperStrategy(params=params(), symbols=(SYM,))
    quiet_then_spike(s, harness)
    (order,) = s.on_book(harness.ctx, book("3", "1"))
    for second in range(1, 5):  # timer ticks count the seconds
        assert s.on_timer(harness.ctx, TimerEvent("scalper", T0 + 1000 * second)) == []
    (cancel,) = s.on_timer(harness.ctx, TimerEvent("scalper", T0 + 5000))
    assert isinstance(cancel, CancelOrder)
    assert cancel.target_intent_id == order.intent_id
    assert s.on_timer(harness.ctx, TimerEvent("scalper", T0 + 6000)) == []  # asked once
    gone = OrderEvent(order.intent_id, SYM, L, Side.BUY, OrderStatus.CANCELLED, D(0), D(0), D(0),
                      T0 + 6000)  # fmt: skip
    s.on_order_event(harness.ctx, gone)
    assert s.slots[SYM].state is ScalperState.FLAT


def exit_of(intents: object) -> SubmitOrder:
    assert isinstance(intents, list | tuple)
    assert len(intents) == 1
    (order,) = intents
    assert isinstance(order, SubmitOrder)
    assert order.reduce_only
    assert order.order_type is OrderType.MARKET
    return order


def test_take_profit_in_ticks(harness: Harness) -> None:
    s = ScalperStrategy(params=params(take_profit=20, stop_loss=10), symbols=(SYM,))
    enter_and_fill(s, harness)
    assert s.on_book(harness.ctx, book(bid="60001.9", ask="60002.0")) == ()  # 19 ticks
    order = exit_of(s.on_book(harness.ctx, book(bid="60002.0", ask="60002.1")))
    assert order.side is Side.SELL
    assert order.reason == "take profit"


def test_stop_loss_then_cooldown(harness: Harness) -> None:
    s = ScalperStrategy(params=params(take_profit=20, stop_loss=10), symbols=(SYM,))
    enter_and_fill(s, harness)
    order = exit_of(s.on_book(harness.ctx, book(bid="59999.0", ask="59999.1")))
    assert order.reason == "stop loss"
    filled = OrderEvent(order.intent_id, SYM, L, Side.SELL, OrderStatus.FILLED, order.qty or D(0),
                        D("59999.0"), D(0), T0 + 100)  # fmt: skip
    s.on_order_event(harness.ctx, filled)
    del harness.portfolio.perps[SYM]
    assert s.slots[SYM].state is ScalperState.FLAT
    assert s.stats.losses == 1
    assert not s.is_idle()  # the timer runs the cooldown
    for second in range(1, 30):
        s.on_timer(harness.ctx, TimerEvent("scalper", T0 + 1000 * second))
    quiet_then_spike(s, harness, at=T0 + 30_000)
    assert s.on_book(harness.ctx, book("3", "1")) == ()  # cooling down for 30 s
    s.on_timer(harness.ctx, TimerEvent("scalper", T0 + 30_000))
    assert len(s.on_book(harness.ctx, book("3", "1"))) == 1


def test_atr_exits(harness: Harness) -> None:
    s = ScalperStrategy(params=params(exit_unit="atr", take_profit=2, stop_loss=1), symbols=(SYM,))
    quiet_then_spike(s, harness)
    assert s.on_book(harness.ctx, book("3", "1")) == ()  # no ATR yet: no stop, no entry
    harness.market.set(SYM, L, atr=5.0)
    enter_and_fill(s, harness)
    assert s.slots[SYM].take_profit == D("60010.0")
    assert s.slots[SYM].stop_loss == D("59995.0")
    assert exit_of(s.on_book(harness.ctx, book(bid="59995.0", ask="59995.1"))).reason == (
        "stop loss"
    )


def test_maximum_holding_time(harness: Harness) -> None:
    s = ScalperStrategy(params=params(max_holding_seconds=60), symbols=(SYM,))
    enter_and_fill(s, harness)
    for second in range(1, 60):
        assert s.on_timer(harness.ctx, TimerEvent("scalper", T0 + 1000 * second)) == []
    order = exit_of(s.on_timer(harness.ctx, TimerEvent("scalper", T0 + 60_000)))
    assert order.reason == "max holding time"
    assert s.slots[SYM].state is ScalperState.EXITING


def test_governance(harness: Harness) -> None:
    s = ScalperStrategy(params=params(), symbols=(SYM,))
    quiet_then_spike(s, harness)
    harness.directive = GovernanceDirective(level=2, entries_paused=True)
    assert s.on_book(harness.ctx, book("3", "1")) == ()
    harness.directive = GovernanceDirective(level=1, size_multiplier=D("0.5"))
    (half,) = s.on_book(harness.ctx, book("3", "1"))
    assert isinstance(half, SubmitOrder)
    assert half.qty == D("0.033")  # full size: the runtime cuts it to 0.016 when it sends it
    harness.directive = GovernanceDirective(level=3, close_directional=True)
    (cancel,) = s.on_book(harness.ctx, book("3", "1"))
    assert isinstance(cancel, CancelOrder)
    assert cancel.target_intent_id == half.intent_id
    s2 = ScalperStrategy(params=params(), symbols=(SYM,))
    harness.directive = GovernanceDirective()
    enter_and_fill(s2, harness)
    harness.directive = GovernanceDirective(level=4, halt=True)
    assert exit_of(s2.on_book(harness.ctx, book("3", "1"))).reason == "governance"


def test_params_cross_checks_and_registry() -> None:
    with pytest.raises(ValidationError, match="entryTimeoutSeconds"):
        ScalperParams(entry_timeout_seconds=300, max_holding_seconds=300)
    with pytest.raises(ValidationError, match="spans at most a day"):
        ScalperParams(volume_window_seconds=3600, volume_baseline_windows=25)
    with pytest.raises(ValidationError):
        ScalperParams(imbalance_threshold=1)
    made = create_strategy("scalper", StrategyParams(scalper=params()), ["ETHUSDT", "BTCUSDT"])
    assert isinstance(made, ScalperStrategy)
    assert made.api_version == 2
    assert made.book_markets() == [("ETHUSDT", L), ("BTCUSDT", L)]
    assert made.book_depth() == 5
    assert [t.period_ms for t in made.timers()] == [1000]
