"""TACTICAL: tranches at -50% and -70%, the other triggers, exits and the return to CORE-HODL."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.strategies import (
    GovernanceDirective,
    OrderEvent,
    OrderStatus,
    Side,
    SubmitOrder,
    TacticalState,
    TacticalStrategy,
    TransferProceeds,
)

pytestmark = pytest.mark.unit
MONTH = int(30.436875 * 86_400_000)


def _market(h, dd: float, btc: float = 30000.0, eth: float = 1500.0) -> None:  # type: ignore[no-untyped-def]
    h.market.set("BTCUSDT", close=btc, drawdown=dd)
    h.market.set("ETHUSDT", close=eth)


def _fill(strat, h, intents, price: str = "1") -> list:  # type: ignore[no-untyped-def]
    out = []
    for o in intents:
        qty = o.qty if o.qty is not None else o.notional / D(price)
        ev = OrderEvent(
            o.intent_id,
            o.symbol,
            o.category,
            o.side,
            OrderStatus.FILLED,
            qty,
            D(price),
            D(0),
            h.market.now_ms,
        )
        out.extend(strat.on_order_event(h.ctx, ev))
    return out


def test_nothing_happens_above_the_first_threshold(harness) -> None:  # type: ignore[no-untyped-def]
    strat = TacticalStrategy()
    _market(harness, 0.49)
    assert strat.on_bar(harness.ctx) == []


def test_tranches_at_fifty_and_seventy_percent_split_eighty_twenty(harness) -> None:  # type: ignore[no-untyped-def]
    strat = TacticalStrategy()
    _market(harness, 0.5)
    first = strat.on_bar(harness.ctx)
    notionals = {o.symbol: o.notional for o in first}
    assert notionals == {"BTCUSDT": D("3992.00"), "ETHUSDT": D("998.00")}  # 5,000 * 0.998 * 0.8/0.2
    assert all(o.side is Side.BUY for o in first)
    _fill(strat, harness, first)
    assert strat.state is TacticalState.DEPLOYED
    assert strat.tranches == 1
    harness.portfolio.cash_ = D(5000)
    _market(harness, 0.69)
    assert strat.on_bar(harness.ctx) == []
    _market(harness, 0.7)
    second = strat.on_bar(harness.ctx)
    assert sum(o.notional for o in second) == D("4990.00")  # the rest
    assert strat.tranches == 2


@pytest.mark.parametrize("trigger", ["fear", "funding"])
def test_other_triggers_when_their_data_exists(harness, trigger: str) -> None:  # type: ignore[no-untyped-def]
    strat = TacticalStrategy()
    _market(harness, 0.2)
    if trigger == "fear":
        harness.market.signals["fear_greed"] = 19.0
    else:
        harness.market.rates["BTCUSDT"] = [D("-0.0006")] * 8
        assert strat.on_bar(harness.ctx) == []  # 8 settlements: less than 3 days
        harness.market.rates["BTCUSDT"].append(D("-0.0006"))
    assert strat.first_trigger(harness.ctx) is not None
    assert len(strat.on_bar(harness.ctx)) == 2


def test_take_profit_exits_and_returns_the_proceeds_to_core(harness) -> None:  # type: ignore[no-untyped-def]
    strat = TacticalStrategy()
    _market(harness, 0.5)
    _fill(strat, harness, strat.on_bar(harness.ctx))
    cost = strat.cost
    harness.portfolio.spot = {
        "BTCUSDT": cost * D("0.8") / D(30000),
        "ETHUSDT": cost * D("0.2") / D(1500),
    }
    _market(harness, 0.3, btc=59000.0, eth=2950.0)  # +96.7%: hold
    assert strat.on_bar(harness.ctx) == []
    _market(harness, 0.1, btc=60000.0, eth=3000.0)  # +100%
    sells = strat.on_bar(harness.ctx)
    assert {o.symbol for o in sells} == {"BTCUSDT", "ETHUSDT"}
    assert all(o.side is Side.SELL for o in sells)
    out = _fill(strat, harness, sells, price="2")
    (transfer,) = out
    assert isinstance(transfer, TransferProceeds)
    assert transfer.to_strategy == "core-hodl"
    assert transfer.amount == sum(o.qty for o in sells) * 2
    assert strat.state is TacticalState.MONITORING
    assert strat.tranches == 0


def test_time_limit_exits_after_twelve_months(harness) -> None:  # type: ignore[no-untyped-def]
    strat = TacticalStrategy()
    _market(harness, 0.5)
    _fill(strat, harness, strat.on_bar(harness.ctx))
    harness.portfolio.spot = {"BTCUSDT": D("0.1")}
    _market(harness, 0.6)
    harness.market.now_ms += 12 * MONTH - 1
    assert strat.on_bar(harness.ctx) == []
    harness.market.now_ms += 1
    (sell,) = strat.on_bar(harness.ctx)
    assert isinstance(sell, SubmitOrder)
    assert sell.side is Side.SELL
    assert sell.qty == D("0.1")


def test_governance_exit_keeps_the_cash(harness) -> None:  # type: ignore[no-untyped-def]
    strat = TacticalStrategy()
    _market(harness, 0.5)
    _fill(strat, harness, strat.on_bar(harness.ctx))
    harness.portfolio.spot = {"BTCUSDT": D("0.1")}
    harness.directive = GovernanceDirective(level=3, close_directional=True, entries_paused=True)
    sells = strat.on_bar(harness.ctx)
    assert _fill(strat, harness, sells) == []  # no transfer to CORE-HODL
    assert strat.state is TacticalState.MONITORING
