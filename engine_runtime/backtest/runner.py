"""The Python API: run one strategy, or the four-engine portfolio under the circuit breaker."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine_runtime.strategies.interface import Category, MarketKey, Strategy
from engine_runtime.strategies.registry import create_strategy

from .book_data import Event
from .data import MarketData
from .engine import Simulation
from .fills import FillModel
from .governance import BreakerEvent, BreakerPolicy
from .runs import EngineRun, EngineSpec, Rejection, Transfer
from .stats import Stats, compute_stats
from .venue import FeeModel, Fill, RoundTrip

DEFAULT_WEIGHTS: dict[str, Decimal] = {
    "core-hodl": Decimal("0.60"),
    "trend": Decimal("0.20"),
    "funding": Decimal("0.15"),
    "tactical": Decimal("0.05"),
}


class EngineResult:
    """One engine's result. ``fills``, ``trips`` and ``stats`` are built on first read (from the
    account, whose fills the signal path keeps as columns until then; statistics from the
    equity and the trips), then kept: equal to what an eager build gives (tested), and free
    for a caller that reads only ``equity``, ``fill_count`` or the balances."""

    def __init__(
        self,
        name: str,
        strategy: str,
        equity: npt.NDArray[np.float64],
        nav: npt.NDArray[np.float64],
        fills: Callable[[], list[Fill]],
        trips: Callable[[], list[RoundTrip]],
        transfers: list[Transfer],
        stats: Callable[[], Stats],
        state: Mapping[str, str],
        cash: float,
        spot: dict[str, float],
        perps: dict[str, float],
        rejections: list[Rejection] | None = None,
        fill_count: int | None = None,
    ) -> None:
        self.name, self.strategy, self.equity, self.nav = name, strategy, equity, nav
        self.transfers, self.state, self.cash = transfers, state, cash
        self.spot, self.perps = spot, perps
        self.rejections = rejections if rejections is not None else []
        self._fills, self._trips, self._stats = fills, trips, stats
        self._fill_count = fill_count

    @cached_property
    def fills(self) -> list[Fill]:
        return self._fills()

    @cached_property
    def trips(self) -> list[RoundTrip]:
        """Closed round trips, then the ones still open at the end."""
        return self._trips()

    @cached_property
    def stats(self) -> Stats:
        return self._stats()

    @property
    def fill_count(self) -> int:
        """``len(fills)`` without building the fills."""
        return self._fill_count if self._fill_count is not None else len(self.fills)


@dataclass
class BacktestResult:
    """Equity (per bar, at the close), NAV per unit, breaker levels, per-engine results.
    ``stats`` is computed on first read (``EngineResult``)."""

    index: pd.DatetimeIndex  # bar open times
    close_ms: list[int]
    equity: npt.NDArray[np.float64]
    nav: npt.NDArray[np.float64]
    levels: npt.NDArray[np.int64]
    engines: dict[str, EngineResult]
    lazy_stats: Callable[[], Stats] = field(repr=False, compare=False)
    breaker_events: list[BreakerEvent] = field(default_factory=list)
    config: dict[str, object] = field(default_factory=dict)
    prices: dict[MarketKey, npt.NDArray[np.float64]] = field(default_factory=dict)
    """Closes of the markets the engines trade, per bar."""

    @cached_property
    def stats(self) -> Stats:
        return self.lazy_stats()

    @property
    def close_index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(pd.to_datetime(self.close_ms, unit="ms", utc=True))

    def equity_series(self) -> pd.Series:
        return pd.Series(self.equity, index=self.close_index, name="equity")

    @property
    def fills(self) -> list[Fill]:
        return [f for e in self.engines.values() for f in e.fills]

    @property
    def fill_count(self) -> int:
        """``len(fills)`` without building them: the order count (every order fills once)."""
        return sum(e.fill_count for e in self.engines.values())

    @property
    def trips(self) -> list[RoundTrip]:
        return [t for e in self.engines.values() for t in e.trips]


def _engine_nav(run: EngineRun, start: float) -> npt.NDArray[np.float64]:
    eq, flows = run.equity, run.flows
    prev = np.concatenate(([start], eq[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(prev > 0, (eq - flows) / prev, 1.0)
    return np.cumprod(growth, dtype=np.float64)


def _collect(sim: Simulation, config: dict[str, object]) -> BacktestResult:
    duration = float(sim.close_ms[-1] - sim.open_ms[0]) if sim.open_ms else 0.0
    engines: dict[str, EngineResult] = {}
    total = np.zeros(len(sim.index))
    for run in sim.runs:
        start = sim.initial_cash * float(run.spec.weight)
        total += run.equity
        engines[run.spec.name] = _engine_result(sim, run, start, duration)
    nav = sim.nav  # per unit; units were issued at 1.0
    if len(sim.runs) == 1:  # one engine: its figures are the run's
        only = next(iter(engines.values()))
        return _result(sim, total, nav, engines, lambda: only.stats, config)
    exposed = np.any([r.exposed for r in sim.runs], axis=0)
    exposure = float(np.mean(exposed)) if len(exposed) else 0.0
    fees = sum(r.account.fees_paid for r in sim.runs)
    funding = sum(r.account.funding_received for r in sim.runs)

    def stats() -> Stats:
        return compute_stats(
            nav,
            index=sim.index,
            start_equity=sim.initial_cash,
            equity=total,
            duration_ms=duration,
            trips=[t for e in engines.values() for t in e.trips],
            exposure=exposure,
            fees=fees,
            funding=funding,
            benchmark=_benchmark(sim, sim.runs[0]),
        )

    return _result(sim, total, nav, engines, stats, config)


def _engine_result(sim: Simulation, run: EngineRun, start: float, duration: float) -> EngineResult:
    """One engine's result; its fills, trips and statistics built when first read."""
    acct = run.account
    eq = run.equity
    nav = _engine_nav(run, start)
    exposure = float(run.exposed.mean()) if run.exposed.size else 0.0
    fees, funding = acct.fees_paid, acct.funding_received
    strategy = run.spec.strategy

    def trips() -> list[RoundTrip]:
        return acct.trips + list(acct.open_trips.values())

    def stats() -> Stats:
        return compute_stats(
            nav,
            index=sim.index,
            start_equity=start,
            equity=eq,
            duration_ms=duration,
            trips=result.trips,
            exposure=exposure,
            fees=fees,
            funding=funding,
            benchmark=_benchmark(sim, run),
            warmup=strategy.warmup_bars(),
        )

    result = EngineResult(
        run.spec.name,
        strategy.name,
        eq,
        nav,
        lambda: list(acct.fills),
        trips,
        list(run.transfers),
        stats,
        dict(strategy.state_summary()),
        acct.cash,
        dict(acct.spot),
        dict(acct.perp_qty),
        list(run.rejections),
        fill_count=acct.fill_count(),
    )
    return result


def _closes(sim: Simulation, key: MarketKey) -> npt.NDArray[np.float64] | None:
    """A market's closes (a perpetual without candles of its own trades at its spot's)."""
    # not ``get(key) or ...``: a market's Columns is an empty dict until the bar loop reads one
    # (on the signal path it never does), and an empty dict is false
    columns = sim.feed.columns.get(key)
    if columns is None:
        columns = sim.feed.columns.get((key[0], Category.SPOT))
    return None if columns is None else columns.arrays["close"]


def _benchmark(sim: Simulation, run: EngineRun) -> npt.NDArray[np.float64] | None:
    """The closes of the engine's first market, for buy-and-hold, alpha and beta."""
    return next(
        (c for key in run.spec.strategy.markets() if (c := _closes(sim, key)) is not None), None
    )


def _result(
    sim: Simulation,
    total: npt.NDArray[np.float64],
    nav: npt.NDArray[np.float64],
    engines: dict[str, EngineResult],
    stats: Callable[[], Stats],
    config: dict[str, object],
) -> BacktestResult:
    return BacktestResult(
        index=sim.index,
        close_ms=sim.close_ms,
        equity=total,
        nav=nav,
        levels=np.asarray(sim.levels, dtype=np.int64),
        engines=engines,
        lazy_stats=stats,
        breaker_events=list(sim.breaker.history) if sim.breaker else [],
        config=config,
        prices={
            key: closes
            for run in sim.runs
            for key in run.spec.strategy.markets()
            if (closes := _closes(sim, key)) is not None
        },
    )


def run_backtest(
    strategy: Strategy,
    data: MarketData,
    *,
    initial_cash: Decimal = Decimal("10000"),
    fees: FeeModel | None = None,
    leverage: float = 2.0,
    causality_check: bool = True,
    engine_name: str = "backtest",
    fill_model: FillModel | None = None,
    book_events: Sequence[Event] | None = None,
    signal_path: bool = True,
) -> BacktestResult:
    """Run one strategy over ``data`` (no governance). Raises ``LookAheadError`` for peeking
    features unless ``causality_check`` is off. ``signal_path=False`` keeps a signal strategy
    on the event loop (``signals``; the results are the same)."""
    spec = EngineSpec(engine_name, strategy, Decimal(1), leverage)
    sim = Simulation(
        data,
        [spec],
        initial_cash=initial_cash,
        fees=fees,
        causality_check=causality_check,
        fill_model=fill_model,
        book_events=book_events,
        signal_path=signal_path,
    )
    sim.run()
    config: dict[str, object] = {
        "mode": "single",
        "strategy": strategy.name,
        "initialCash": str(initial_cash),
        "fees": _fees_dict(sim.fees),
        "fillModel": {"through": sim.fill_model.through},
        "leverage": leverage,
    }
    return _collect(sim, config)


def run_portfolio(
    data: MarketData,
    *,
    strategies: Mapping[str, Strategy] | None = None,
    weights: Mapping[str, Decimal] | None = None,
    initial_cash: Decimal = Decimal("100000"),
    monthly_contribution: Decimal = Decimal(0),
    policy: BreakerPolicy | None = None,
    fees: FeeModel | None = None,
    governance: bool = True,
) -> BacktestResult:
    """The four engines with their allocation, under the circuit-breaker ``policy``.

    ``strategies`` defaults to the registry's four with default parameters; ``weights`` to
    60/20/15/5. Each engine trades its own subaccount; governance acts on the portfolio's NAV.
    """
    weights = dict(weights or DEFAULT_WEIGHTS)
    chosen = dict(strategies) if strategies else {name: create_strategy(name) for name in weights}
    specs: Sequence[EngineSpec] = [
        EngineSpec(name, strat, weights[name], _leverage(strat)) for name, strat in chosen.items()
    ]
    policy = (policy or BreakerPolicy()) if governance else None
    sim = Simulation(
        data,
        specs,
        initial_cash=initial_cash,
        fees=fees,
        policy=policy,
        monthly_contribution=monthly_contribution,
    )
    sim.run()
    config: dict[str, object] = {
        "mode": "portfolio",
        "weights": {k: str(v) for k, v in weights.items()},
        "initialCash": str(initial_cash),
        "monthlyContribution": str(monthly_contribution),
        "governance": governance,
        "policy": policy.spec.model_dump(mode="json", by_alias=True) if policy else None,
        "reviewAfterDays": policy.review_after_days if policy else None,
        "fees": _fees_dict(sim.fees),
    }
    return _collect(sim, config)


def _leverage(strategy: Strategy) -> float:
    params = getattr(strategy, "params", None)
    lev = getattr(params, "leverage", None)
    return float(lev) if lev is not None else 2.0


def _fees_dict(fees: FeeModel) -> dict[str, float]:
    return {
        "spotTaker": fees.spot_taker,
        "spotMaker": fees.spot_maker,
        "linearTaker": fees.linear_taker,
        "linearMaker": fees.linear_maker,
        "slippage": fees.slippage,
    }
