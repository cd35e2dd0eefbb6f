"""The interface: intents validate themselves, ids are deterministic, the registry builds four."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.strategies import (
    REGISTRY,
    STRATEGY_API_VERSION,
    SUPPORTED_API_VERSIONS,
    BookLevel,
    Category,
    OrderBook,
    OrderType,
    Side,
    Strategy,
    SubmitOrder,
    TimerSpec,
    create_strategy,
    intent_id,
)
from eternal_kernel.api.v1alpha1.strategy_params import StrategyParams, TrendParams

pytestmark = pytest.mark.unit


def test_intent_ids_are_deterministic_and_fit_bybit() -> None:
    a = intent_id("core", 1000, "BTCUSDT", "entry")
    assert a == intent_id("core", 1000, "BTCUSDT", "entry")
    assert a != intent_id("core", 1001, "BTCUSDT", "entry")
    assert len(a) <= 36


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qty": D(1), "notional": D(1)}, "exactly one"),
        ({"qty": D(0)}, "positive"),
        ({"qty": D(1), "order_type": OrderType.LIMIT}, "price"),
        ({"qty": D(1), "post_only": True}, "postOnly"),
        ({"notional": D(10), "category": Category.LINEAR}, "notional"),
    ],
)
def test_submit_order_validation(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "intent_id": "x",
        "symbol": "BTCUSDT",
        "category": Category.SPOT,
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
    }
    with pytest.raises(ValueError, match=message):
        SubmitOrder(**{**base, **kwargs})  # type: ignore[arg-type]


def test_registry_builds_every_strategy_with_typed_params() -> None:
    assert set(REGISTRY) == {
        "core-hodl", "trend", "funding", "tactical", "grid", "scalper", "meta-trend",
    }  # fmt: skip
    for name in REGISTRY:
        strat = create_strategy(name)
        assert isinstance(strat, Strategy)
        assert strat.name == name
        assert strat.api_version in SUPPORTED_API_VERSIONS
        assert strat.api_version <= STRATEGY_API_VERSION
    params = StrategyParams.model_validate({"trend": {"smaFast": 20, "smaSlow": 100}})
    trend = create_strategy("trend", params, ["SOLUSDT"])
    assert trend.markets() == [("SOLUSDT", Category.LINEAR)]
    assert trend.warmup_bars() == 100
    assert isinstance(params.trend, TrendParams)
    meta = create_strategy(
        "meta-trend",
        StrategyParams.model_validate({"metaTrend": {"category": "spot", "emaSlow": 30}}),
        ["SOLUSDT"],
    )
    assert meta.markets() == [("SOLUSDT", Category.SPOT)]
    assert meta.warmup_bars() == 4 * (26 + 9)
    with pytest.raises(ValueError, match="unknown strategy"):
        create_strategy("no-such-strategy")


def test_version_one_strategies_keep_their_version_and_ask_for_no_book_tape_or_timer() -> None:
    """Version 2 only adds: the four strategies written against version 1 still say 1 (their
    checkpoints are keyed by it, so a bump would silently start them fresh) and subscribe to
    nothing new."""
    for name in ("core-hodl", "trend", "funding", "tactical"):
        strat = create_strategy(name)
        assert strat.api_version == 1
        assert not strat.book_markets()
        assert not strat.trade_markets()
        assert not strat.timers()


def test_the_book_knows_its_touch() -> None:
    book = OrderBook(
        symbol="BTCUSDT",
        category=Category.LINEAR,
        bids=(BookLevel(D("99.5"), D(2)), BookLevel(D(99), D(1))),
        asks=(BookLevel(D("100.5"), D(3)),),
        update_id=7,
        seq=42,
        ts_ms=1,
    )
    assert (book.best_bid, book.best_ask) == (D("99.5"), D("100.5"))
    assert book.mid == D(100)
    assert book.spread == D(1)
    empty = OrderBook("BTCUSDT", Category.LINEAR, (), book.asks, 0, 0, 1)
    assert (empty.best_bid, empty.mid, empty.spread) == (None, None, None)


def test_timers_are_not_a_busy_loop() -> None:
    with pytest.raises(ValueError, match="100 ms"):
        TimerSpec("tick", 10)
