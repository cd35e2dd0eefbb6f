"""trading.eternal-engine.io/v1alpha1: Engine, Allocation and CircuitBreakerPolicy."""

from .allocation import Allocation, AllocationSpec, AllocationStatus, AllocationTarget
from .backtest import Backtest, BacktestPhase, BacktestSpec, BacktestStatus
from .common import API_VERSION, GROUP, VERSION, Condition, ConditionStatus, LabelSelector
from .engine import (
    Engine,
    EngineSpec,
    EngineStatus,
    GovernanceDirective,
    OnDelete,
    Phase,
    RiskLimits,
    Strategy,
    Venue,
)
from .policy import (
    BreakerLevel,
    CircuitBreakerPolicy,
    CircuitBreakerPolicySpec,
    CircuitBreakerPolicyStatus,
)
from .strategy_params import StrategyParams
from .training import ModelTraining, ModelTrainingSpec, ModelTrainingStatus, TrainingPhase

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "Allocation",
    "AllocationSpec",
    "AllocationStatus",
    "AllocationTarget",
    "Backtest",
    "BacktestPhase",
    "BacktestSpec",
    "BacktestStatus",
    "BreakerLevel",
    "CircuitBreakerPolicy",
    "CircuitBreakerPolicySpec",
    "CircuitBreakerPolicyStatus",
    "Condition",
    "ConditionStatus",
    "Engine",
    "EngineSpec",
    "EngineStatus",
    "GovernanceDirective",
    "LabelSelector",
    "ModelTraining",
    "ModelTrainingSpec",
    "ModelTrainingStatus",
    "OnDelete",
    "Phase",
    "RiskLimits",
    "Strategy",
    "StrategyParams",
    "TrainingPhase",
    "Venue",
]
