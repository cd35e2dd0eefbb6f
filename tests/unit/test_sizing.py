"""Position sizing against hand calculations."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.sizing import (
    KellyBasis,
    SizingPolicy,
    TradeStats,
    kelly_fraction,
    position_size,
)

pytestmark = pytest.mark.unit


def _stats(wins: int, losses: int, avg_win: str, avg_loss: str) -> TradeStats:
    return TradeStats(wins, losses, D(avg_win) * wins, D(avg_loss) * losses)


def test_kelly_fraction_hand_values() -> None:
    assert kelly_fraction(D("0.5"), D("2")) == D("0.25")  # (2*0.5 - 0.5) / 2
    assert kelly_fraction(D("0.4"), D("1")) == D("-0.2")  # (0.4 - 0.6) / 1
    with pytest.raises(ValueError, match="payoff"):
        kelly_fraction(D("0.5"), D("0"))


def test_trade_stats_win_rate_and_payoff() -> None:
    stats = TradeStats().record(D("30")).record(D("-10")).record(D("10")).record(D("-20"))
    assert stats.trades == 4
    assert stats.win_rate == D("0.5")
    assert stats.payoff == D("20") / D("15")  # avg win 20 / avg loss 15


def test_risk_based_size_when_there_is_no_history() -> None:
    # 1% of 10,000 = 100 at risk; stop 5 away -> 20 units; cap 50% -> 5,000 / 100 = 50 units.
    r = position_size(
        equity=D(10000), entry_price=D(100), stop_price=D(95), max_position_notional=D(5000)
    )
    assert r.qty == D(20)
    assert r.binding == "risk"
    assert r.kelly_qty is None
    assert r.cap_qty == D(50)


def test_kelly_binds_when_the_recorded_edge_is_thin() -> None:
    # p = 0.42, b = 1.5: f* = (0.63 - 0.58) / 1.5 = 1/30; 1/8 of it = 1/240 of equity at risk
    # -> 10,000 / 240 / 5 = 8.3333 units, below the risk rule's 20.
    stats = _stats(42, 58, "15", "10")
    r = position_size(
        equity=D(10000),
        entry_price=D(100),
        stop_price=D(95),
        max_position_notional=D(5000),
        stats=stats,
    )
    assert r.binding == "kelly"
    assert r.qty == D("8.333")
    assert r.kelly_qty == pytest.approx(D(10000) / D(240) / D(5))


def test_kelly_on_the_notional_basis_is_the_documents_formula() -> None:
    # p = 0.5, b = 2: f* = 0.25, 1/8 -> 0.03125 of equity as notional -> 312.5 / 100 = 3.125 units
    stats = _stats(10, 10, "20", "10")
    policy = SizingPolicy(kelly_basis=KellyBasis.NOTIONAL, min_trades_for_kelly=20)
    r = position_size(
        equity=D(10000),
        entry_price=D(100),
        stop_price=D(95),
        max_position_notional=D(5000),
        stats=stats,
        policy=policy,
    )
    assert r.qty == D("3.125")
    assert r.binding == "kelly"


def test_kelly_waits_for_enough_trades_and_refuses_a_negative_edge() -> None:
    few = _stats(1, 5, "10", "10")
    r = position_size(
        equity=D(10000),
        entry_price=D(100),
        stop_price=D(95),
        max_position_notional=D(5000),
        stats=few,
    )
    assert r.kelly_qty is None
    assert r.qty == D(20)
    losing = _stats(8, 22, "10", "10")  # p = 0.27, b = 1: negative edge
    r = position_size(
        equity=D(10000),
        entry_price=D(100),
        stop_price=D(95),
        max_position_notional=D(5000),
        stats=losing,
    )
    assert r.qty == 0
    assert r.binding == "kelly"


def test_cap_binds_for_a_tight_stop() -> None:
    # stop 0.1 away: risk rule says 1,000 units; 50% of 10,000 / 100 = 50 units.
    r = position_size(
        equity=D(10000), entry_price=D(100), stop_price=D("99.9"), max_position_notional=D(5000)
    )
    assert r.qty == D(50)
    assert r.binding == "cap"


def test_the_size_is_not_governed_here() -> None:
    """The governance multiplier is applied once, to the order the runtime sends
    (``governance.admission``): the sizing rule takes none."""
    with pytest.raises(TypeError):
        position_size(  # type: ignore[call-arg]
            equity=D(10000), entry_price=D(100), stop_price=D(105),
            max_position_notional=D(5000), size_multiplier=D("0.5"),
        )  # fmt: skip
    r = position_size(
        equity=D(10000), entry_price=D(100), stop_price=D(105), max_position_notional=D(5000)
    )
    assert r.qty == D(20)


def test_rounds_down_to_the_step_and_rejects_bad_inputs() -> None:
    r = position_size(
        equity=D(10000),
        entry_price=D(300),
        stop_price=D(293),
        max_position_notional=D(5000),
        qty_step=D("0.01"),
    )
    assert r.qty == D("14.28")  # 100 / 7 = 14.2857.. rounded down
    with pytest.raises(ValueError, match="stop"):
        position_size(equity=D(1), entry_price=D(1), stop_price=D(1), max_position_notional=D(1))
    assert (
        position_size(
            equity=D(0), entry_price=D(1), stop_price=D(2), max_position_notional=D(1)
        ).qty
        == 0
    )
