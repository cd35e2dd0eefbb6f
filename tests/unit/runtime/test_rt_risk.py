"""Pre-trade risk checks: each refusal names its check and says why; exits always pass."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.portfolio.positions import Position
from engine_runtime.risk.checks import RiskState, check_order
from eternal_kernel.api.v1alpha1.engine import RiskLimits
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId

pytestmark = pytest.mark.unit

LIMITS = RiskLimits(
    max_leverage=D("2"),
    max_position_fraction=D("0.5"),
    max_concurrent_positions=2,
    daily_loss_limit=D("0.02"),
    weekly_loss_limit=D("0.05"),
    min_signal_confidence=D("0.6"),
)


def order(
    qty: str = "0.01",
    side: OrderSide = OrderSide.BUY,
    symbol: str = "BTCUSDT",
    reduce_only: bool = False,
    cid: str = "ee-new",
) -> OrderRequest:
    return OrderRequest(
        ClientOrderId(cid),
        symbol,
        Category.LINEAR,
        side,
        OrderType.MARKET,
        D(qty),
        reduce_only=reduce_only,
    )


def state(**kw: Any) -> RiskState:
    base: dict[str, Any] = {
        "equity": D("10000"),
        "day_start_equity": D("10000"),
        "week_start_equity": D("10000"),
        "positions": {},
        "marks": {"BTCUSDT": D("60000"), "ETHUSDT": D("3000"), "SOLUSDT": D("150")},
        "open_orders": [],
    }
    return RiskState(**(base | kw))


def long(symbol: str, qty: str, price: str) -> Position:
    return Position(symbol, Category.LINEAR, D(qty), D(price))


def test_a_small_entry_passes() -> None:
    assert check_order(order(), state(), LIMITS, confidence=D("0.9")).ok


@pytest.mark.parametrize(
    ("kw", "check"),
    [
        ({"emergency_stop": "keys refused"}, "emergency_stop"),
        ({"halted": True}, "governance_halt"),
        ({"entries_paused": True}, "entries_paused"),
        ({"equity": D("9790")}, "daily_loss"),
        ({"equity": D("9400"), "day_start_equity": D("9400")}, "weekly_loss"),
    ],
)
def test_account_level_refusals(kw: dict[str, Any], check: str) -> None:
    decision = check_order(order(), state(**kw), LIMITS)
    assert not decision.ok
    assert decision.check == check
    assert decision.reason


def test_low_confidence_is_refused() -> None:
    decision = check_order(order(), state(), LIMITS, confidence=D("0.5"))
    assert decision.check == "min_confidence"
    assert "0.5 < minimum 0.6" in decision.reason


def test_duplicate_position_and_duplicate_working_entry() -> None:
    positions = {("BTCUSDT", Category.LINEAR): long("BTCUSDT", "0.01", "60000")}
    assert check_order(order(), state(positions=positions), LIMITS).check == "duplicate_position"
    working = ManagedOrder.from_request(order(cid="ee-old"), "i", "", 0)
    decision = check_order(order(), state(open_orders=[working]), LIMITS)
    assert decision.check == "duplicate_position"
    assert "ee-old" in decision.reason


def test_a_layered_strategy_may_add_levels_but_not_beyond_the_other_limits() -> None:
    """A grid's several resting levels on one side are not duplicates; size still counts."""
    positions = {("BTCUSDT", Category.LINEAR): long("BTCUSDT", "0.01", "60000")}
    working = ManagedOrder.from_request(order(cid="ee-old"), "i", "", 0)
    layered = state(positions=positions, open_orders=[working])
    assert check_order(order(), layered, LIMITS, layered=True).ok
    assert check_order(order(), layered, LIMITS).check == "duplicate_position"
    too_big = check_order(order(qty="10"), layered, LIMITS, layered=True)
    assert too_big.check == "max_position_size"


def test_an_entry_filled_but_not_yet_booked_still_counts_as_working() -> None:
    filled = ManagedOrder.from_request(order(cid="ee-filled"), "i", "", 0)
    filled.status, filled.filled_qty = OrderStatus.FILLED, D("0.01")  # position not updated yet
    decision = check_order(order(), state(open_orders=[filled]), LIMITS)
    assert decision.check == "duplicate_position"
    assert "ee-filled" in decision.reason


def test_max_concurrent_positions() -> None:
    positions = {
        ("ETHUSDT", Category.LINEAR): long("ETHUSDT", "0.1", "3000"),
        ("SOLUSDT", Category.LINEAR): long("SOLUSDT", "1", "150"),
    }
    decision = check_order(order(), state(positions=positions), LIMITS)
    assert decision.check == "max_concurrent_positions"


def test_max_position_size_and_leverage() -> None:
    assert check_order(order("0.1"), state(), LIMITS).check == "max_position_size"  # 6000/10000
    positions = {
        ("ETHUSDT", Category.LINEAR): long("ETHUSDT", "6", "3000"),  # 18000 notional
    }
    decision = check_order(order("0.05"), state(positions=positions), LIMITS)  # +3000
    assert decision.check == "leverage"
    assert "2.10 > limit 2" in decision.reason


def test_exits_always_pass() -> None:
    positions = {("BTCUSDT", Category.LINEAR): long("BTCUSDT", "1", "60000")}
    halted = state(positions=positions, halted=True, emergency_stop="x", equity=D("1"))
    assert check_order(order("1", OrderSide.SELL), halted, LIMITS).ok
    assert check_order(order("5", OrderSide.SELL, reduce_only=True), halted, LIMITS).ok
    assert not check_order(order("2", OrderSide.SELL), halted, LIMITS).ok  # would flip: entry
