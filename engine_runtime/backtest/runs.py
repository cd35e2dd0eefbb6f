"""What a simulation holds per engine: its spec, subaccount, queue and recorded series."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from engine_runtime.strategies.interface import Intent, Strategy, StrategyContext, TransferProceeds

from .venue import SimAccount
from .views import AccountView


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """One engine of a run: a name, a strategy, its share of the starting capital."""

    name: str
    strategy: Strategy
    weight: Decimal = Decimal(1)
    leverage: float = 2.0


@dataclass(frozen=True, slots=True)
class Transfer:
    ts_ms: int
    source: str
    target: str | None
    amount: float
    reason: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """An order the simulated venue refused (on submission or when it would have filled)."""

    ts_ms: int
    intent_id: str
    symbol: str
    reason: str


@dataclass
class EngineRun:
    """An engine's state during and after a run."""

    spec: EngineSpec
    account: SimAccount
    view: AccountView
    ctx: StrategyContext
    queue: list[Intent] = field(default_factory=list)
    # per bar, at the close: equity, whether anything was held, deposits (+) and transfers (+/-)
    equity: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    exposed: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    flows: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    transfers: list[Transfer] = field(default_factory=list)
    pending_transfers: list[TransferProceeds] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    halted: bool = False
    listens: bool = True  # False when the strategy keeps BaseStrategy's no-op on_order_event
