"""The interface: intents validate themselves, ids are deterministic, the registry builds four."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.strategies import (
    REGISTRY,
    STRATEGY_API_VERSION,
    Category,
    OrderType,
    Side,
    Strategy,
    SubmitOrder,
    create_strategy,
    intent_id,
)
from eternal_operator.api.v1alpha1.strategy_params import StrategyParams, TrendParams

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


def test_registry_builds_the_five_with_typed_params() -> None:
    assert set(REGISTRY) == {"core-hodl", "trend", "funding", "tactical", "meta-trend"}
    for name in REGISTRY:
        strat = create_strategy(name)
        assert isinstance(strat, Strategy)
        assert strat.name == name
        assert strat.api_version == STRATEGY_API_VERSION
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
        create_strategy("grid")
