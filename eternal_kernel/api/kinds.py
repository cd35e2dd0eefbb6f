"""The CRD-level facts of each kind: names, short names and printer columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .v1alpha1 import GROUP, Allocation, Backtest, CircuitBreakerPolicy, Engine, ModelTraining
from .v1alpha1.backtest import BACKTEST_NAME_MESSAGE, BACKTEST_NAME_RULE
from .v1alpha1.base import cel
from .v1alpha1.names import ENGINE_NAME_MESSAGE, ENGINE_NAME_RULE
from .v1alpha1.training import TRAINING_NAME_MESSAGE, TRAINING_NAME_RULE


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0


@dataclass(frozen=True)
class KindInfo:
    model: type[BaseModel]
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    description: str
    columns: tuple[PrinterColumn, ...] = field(default_factory=tuple)
    name_rules: tuple[dict[str, Any], ...] = ()
    """CEL rules on metadata.name, beyond the DNS subdomain the API server requires."""

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        model=Engine,
        kind="Engine",
        plural="engines",
        singular="engine",
        short_names=("eng",),
        description="A trading engine: one strategy on one Bybit subaccount, run by one pod.",
        columns=(
            PrinterColumn("Strategy", ".spec.strategy", description="Strategy run."),
            PrinterColumn("Venue", ".spec.venue", description="Where orders go."),
            PrinterColumn("Phase", ".status.phase", description="One-word state."),
            PrinterColumn("Equity", ".status.runtime.equity", description="Equity in USDT."),
            PrinterColumn("Alloc", ".status.allocation.targetWeight", description="Target weight."),
            PrinterColumn("Drawdown", ".status.runtime.drawdown", description="Own drawdown."),
            PrinterColumn("Level", ".status.governance.level", "integer", "Breaker level."),
            AGE,
        ),
        name_rules=(cel(ENGINE_NAME_RULE, ENGINE_NAME_MESSAGE),),
    ),
    KindInfo(
        model=Allocation,
        kind="Allocation",
        plural="allocations",
        singular="allocation",
        short_names=("alloc",),
        description="Capital allocation across engines and rebalancing between subaccounts.",
        columns=(
            PrinterColumn("Equity", ".status.totalEquity", description="Total equity in USDT."),
            PrinterColumn("Drift", ".status.maxDrift", description="Largest relative drift."),
            PrinterColumn(
                "Last-Rebalance", ".status.lastRebalance", "date", "Last completed rebalance."
            ),
            AGE,
        ),
    ),
    KindInfo(
        model=CircuitBreakerPolicy,
        kind="CircuitBreakerPolicy",
        plural="circuitbreakerpolicies",
        singular="circuitbreakerpolicy",
        short_names=("cbp",),
        description="Portfolio drawdown circuit breakers, loss limits and the emergency halt.",
        columns=(
            PrinterColumn("Equity", ".status.equity", description="Portfolio equity in USDT."),
            PrinterColumn("HWM", ".status.highWaterMark", description="High-water mark (NAV)."),
            PrinterColumn("Drawdown", ".status.drawdown", description="Drawdown from the HWM."),
            PrinterColumn("Level", ".status.level", "integer", "Breaker level in force."),
            PrinterColumn("Halted", ".status.halted", "boolean", "Latched halt in force."),
            AGE,
        ),
    ),
    KindInfo(
        model=ModelTraining,
        kind="ModelTraining",
        plural="modeltrainings",
        singular="modeltraining",
        short_names=("mt",),
        description="A strategy's meta-model trained in a Job and published into a ConfigMap.",
        columns=(
            PrinterColumn("Phase", ".status.phase", description="Pending, Running, Succeeded..."),
            PrinterColumn(
                "Precision", ".status.metrics.precision", description="Out-of-sample precision."
            ),
            PrinterColumn("AUC", ".status.metrics.auc", description="Out-of-sample ROC AUC."),
            PrinterColumn("ConfigMap", ".status.configMap", description="Where the model is."),
            AGE,
        ),
        name_rules=(cel(TRAINING_NAME_RULE, TRAINING_NAME_MESSAGE),),
    ),
    KindInfo(
        model=Backtest,
        kind="Backtest",
        plural="backtests",
        singular="backtest",
        short_names=("bt",),
        description="A strategy's parameter sweep run as an Indexed Job, ranked in its status.",
        columns=(
            PrinterColumn("Phase", ".status.phase", description="Pending, Running, Succeeded..."),
            PrinterColumn("Completed", ".status.progress", description="Shards done/total."),
            PrinterColumn("Best", ".status.bestScore", description="Best score of the metric."),
            PrinterColumn(
                "Metric", ".spec.metric", description="What the ranking uses.", priority=1
            ),
            AGE,
        ),
        name_rules=(cel(BACKTEST_NAME_RULE, BACKTEST_NAME_MESSAGE),),
    ),
)
