"""The live runner applies the governance size multiplier once, at send time: TREND's entry fed
through the runner's decision path (candles, features, on_bar, sizing, the checks) goes out at
half its size under a multiplier of 0.5, not a quarter; a zero multiplier sends nothing and
records no refusal, unless a halt says why."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal as D

import pytest

from engine_runtime.execution.manager import OrderManager
from engine_runtime.governance.obedience import Governor
from engine_runtime.live.market import LiveMarket
from engine_runtime.live.runner import StrategyRunner
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.metrics import Metrics
from engine_runtime.strategies.interface import (
    Intent,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
)
from engine_runtime.strategies.trend import TrendStrategy
from eternal_kernel.api.v1alpha1.engine import GovernanceDirective, RiskLimits
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.model.reports import CoinBalance, WalletReport

pytestmark = pytest.mark.unit

L = Category.LINEAR
BAR_MS = 60_000
BTC = Instrument("BTCUSDT", L, "BTC", "USDT", D("0.1"), D("0.001"), D("0.001"), D("100000"),
                 D("5"), D("100"))  # fmt: skip


class RecordingTrend(TrendStrategy):
    """TREND, keeping the orders it asked for (before the runner's governance)."""

    asked: list[SubmitOrder]

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        out = super().on_bar(ctx)
        self.asked = [*getattr(self, "asked", []), *(i for i in out if isinstance(i, SubmitOrder))]
        return out


class Rig:
    def __init__(self, directive: GovernanceDirective) -> None:
        self.strategy = RecordingTrend(symbols=("BTCUSDT",))
        portfolio = Portfolio()
        usdt = CoinBalance("USDT", D(10000), D(10000), D(10000))
        portfolio.on_wallet(WalletReport(D(10000), {"USDT": usdt}))
        manager = OrderManager(None, None, portfolio, Metrics())  # type: ignore[arg-type]
        self.sent: list[OrderRequest] = []
        manager.submit_soon = self._submit  # type: ignore[method-assign]  # no venue here
        self.refused: list[tuple[str, str]] = []
        self.governor = Governor()
        self.governor.directive = directive
        self.runner = StrategyRunner(
            engine="ns/trend", strategy=self.strategy,
            market=LiveMarket([("BTCUSDT", L)], 260, "1"), portfolio=portfolio, manager=manager,
            governor=self.governor, limits=RiskLimits(), instruments={("BTCUSDT", L): BTC},
            metrics=Metrics(), refuse=lambda i, s, check, why: self.refused.append((i, check)),
            background=lambda coro: coro.close(), emergency_stop=lambda: None,
        )  # fmt: skip
        self.runner.enabled = True

    def _submit(self, request: OrderRequest, intent_id: str, reason: str = "") -> bool:
        self.sent.append(request)
        return True

    def feed_uptrend(self, bars: int = 230, first: int = 0) -> None:
        """A steady climb: close over SMA200, SMA50 over SMA200, ADX far above 25."""
        for i in range(first, first + bars):
            close = D(100) + D("0.2") * i
            row = {"confirm": True, "start": i * BAR_MS, "open": str(close - D("0.1")),
                   "high": str(close + D("0.3")), "low": str(close - D("0.3")),
                   "close": str(close), "volume": "1"}  # fmt: skip
            self.runner.on_kline("BTCUSDT", L, row, 0)


def level(multiplier: str, **flags: bool) -> GovernanceDirective:
    """A directive that changes nothing but the multiplier (stops not widened, so TREND's own
    size is the same at every level)."""
    return GovernanceDirective(level=1, size_multiplier=D(multiplier), **flags)


def test_a_trend_entry_at_multiplier_half_is_sent_at_half_its_size_not_a_quarter() -> None:
    free, governed = Rig(level("1")), Rig(level("0.5"))
    free.feed_uptrend()
    governed.feed_uptrend()
    (full,) = free.sent
    (entry,) = governed.strategy.asked
    assert entry.qty == full.qty  # TREND sizes as if no breaker tripped ...
    assert full.qty > D("0.1")
    (sent,) = governed.sent  # ... and the runner cuts it once
    assert sent.qty == (full.qty / 2).quantize(D("0.001"), rounding="ROUND_DOWN")
    assert sent.qty > full.qty * D("0.49")  # not the quarter of a double cut
    assert governed.refused == []


def test_a_zero_multiplier_sends_nothing_and_records_no_refusal_unless_a_halt_says_why() -> None:
    rig = Rig(level("1"))
    rig.strategy.on_bar = lambda ctx: [  # type: ignore[method-assign]  # a user strategy
        SubmitOrder(f"buy-{ctx.market.now_ms}", "BTCUSDT", L, Side.BUY, OrderType.MARKET,
                    qty=D("1"))
    ]  # fmt: skip
    rig.governor.directive = level("0")
    rig.feed_uptrend(5)
    assert rig.sent == []
    assert rig.refused == []  # five bars, five withheld entries, nothing recorded
    rig.governor.directive = level("0", entries_paused=True)
    rig.feed_uptrend(7, first=5)
    assert rig.sent == []
    assert [check for _, check in rig.refused] == ["entries_paused"] * 7  # the pause says why
