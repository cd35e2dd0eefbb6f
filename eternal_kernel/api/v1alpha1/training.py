"""The `ModelTraining` kind: train a strategy's meta-model in a Kubernetes Job and publish the
artifact into a ConfigMap an Engine mounts (`params.metaTrend.modelConfigMap`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import ApiModel, cel, rules
from .common import DNS_SUBDOMAIN, GROUP, Conditions, EngineName
from .engine import ObjectMeta, Symbol, Venue
from .names import DNS_1035_LABEL
from .strategy_params import MetaTrendParams

TRAINING_NAME_MAX = 52
"""A ModelTraining's name, `-` and 10 characters of its spec's hash name its Job (63 at most,
as the Job's name goes into its pods' labels)."""
TRAINING_NAME_MESSAGE = (
    f"must be a DNS-1035 label of at most {TRAINING_NAME_MAX} characters, so that the operator "
    "can name its Job '<name>-<spec hash>'"
)
TRAINING_NAME_RULE = f"size(self) <= {TRAINING_NAME_MAX} && self.matches('{DNS_1035_LABEL}')"

JOB_ANNOTATION = f"{GROUP}/training-job"
MODEL_SHA_ANNOTATION = f"{GROUP}/model-sha256"
METRICS_ANNOTATION = f"{GROUP}/training-metrics"
ERROR_ANNOTATION = f"{GROUP}/training-error"
"""What a ModelTraining Job's pod writes on the output ConfigMap (`engine_runtime.model_job`)
and the operator reads back into the ModelTraining's status: which Job wrote it, the model's
sha256, the training's metrics, or why there is no model."""

ConfigMapName = Annotated[str, Field(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)]
ConfigMapKey = Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$", min_length=1, max_length=253)]


class TrainingStrategy(StrEnum):
    META_TREND = "meta-trend"


class VenueHistory(ApiModel):
    """Candles downloaded from a venue's public kline history when the Job starts."""

    venue: Venue = Field(
        default=Venue.SIMULATOR, description="Whose history: the paper venue, testnet or mainnet."
    )
    symbols: list[Symbol] = Field(
        min_length=1, max_length=10, description="Symbols to train on, e.g. BTCUSDT.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )  # fmt: skip
    days: int = Field(
        default=365, ge=7, le=3650,
        description="Days of history up to now, in candles of the parameters' interval.",
    )  # fmt: skip


class CandlesFile(ApiModel):
    """One symbol's candles: a CSV under a key of the ConfigMap."""

    symbol: Symbol = Field(description="The symbol these candles are of.")
    key: ConfigMapKey = Field(description="The ConfigMap key holding the CSV.")
    funding_key: ConfigMapKey | None = Field(
        default=None,
        description="The key holding its settled funding rates (CSV with a 'rate' column), "
        "for a linear (perpetual) model; without it the training has no funding feature data.",
    )


class CandlesConfigMap(ApiModel):
    """Candles given in a ConfigMap (CSV per symbol, as `engine_runtime.train --candles` reads)."""

    name: ConfigMapName = Field(description="The ConfigMap, in the ModelTraining's namespace.")
    files: list[CandlesFile] = Field(
        min_length=1, max_length=10, description="Which key holds which symbol's candles.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys":
                           ["symbol"]},
    )  # fmt: skip


class TrainingData(ApiModel):
    """Where the candles come from: exactly one of venueHistory and configMap."""

    venue_history: VenueHistory | None = Field(
        default=None, description="Download the venue's kline history."
    )
    config_map: CandlesConfigMap | None = Field(
        default=None, description="Read candles from a ConfigMap."
    )

    @model_validator(mode="after")
    def _one_source(self) -> TrainingData:
        if (self.venue_history is None) == (self.config_map is None):
            raise ValueError("set exactly one of venueHistory and configMap")
        return self


class ParamsFrom(ApiModel):
    """Train with an Engine's `params.metaTrend`, so that Engine's runtime accepts the model."""

    engine: EngineName = Field(description="An Engine in the same namespace.")


class ModelTrainingSpec(ApiModel):
    """What to train on, with which parameters, and where the artifact goes."""

    strategy: TrainingStrategy = Field(
        default=TrainingStrategy.META_TREND, description="The strategy whose model is trained."
    )
    params: MetaTrendParams | None = Field(
        default=None,
        description="The strategy's parameters (as Engine.spec.params.metaTrend); the features "
        "and labels depend on them. Default: the strategy's defaults.",
    )
    params_from: ParamsFrom | None = Field(
        default=None, description="Take the parameters from an Engine instead of `params`."
    )
    data: TrainingData = Field(
        description="Where the candles come from.",
        json_schema_extra=rules(cel(
            "has(self.venueHistory) != has(self.configMap)",
            "set exactly one of venueHistory and configMap",
        )),
    )  # fmt: skip
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Random seed of the training.")
    output_config_map: ConfigMapName = Field(
        description="The ConfigMap the artifact is published into (created and owned by the "
        "operator; an existing ConfigMap it does not own is never overwritten)."
    )
    image: str | None = Field(
        default=None, max_length=512, description="Training image (default: the runtime image)."
    )
    active_deadline_seconds: int = Field(
        default=1800, ge=30, le=86400, description="The Job fails if training takes longer."
    )
    backoff_limit: int = Field(
        default=0, ge=0, le=5, description="Retries of a failed training pod before it fails."
    )

    @model_validator(mode="after")
    def _one_params(self) -> ModelTrainingSpec:
        if self.params is not None and self.params_from is not None:
            raise ValueError("set at most one of params and paramsFrom")
        return self


_SPEC_RULES = rules(
    cel("!(has(self.params) && has(self.paramsFrom))", "set at most one of params and paramsFrom")
)


class TrainingPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


MetricValue = Annotated[str, Field(max_length=64)]


class ModelTrainingStatus(ApiModel):
    """The training's progress and, once it succeeded, its out-of-sample metrics."""

    observed_generation: int | None = Field(default=None, ge=0, description="Spec generation.")
    phase: TrainingPhase | None = Field(default=None, description="Pending, Running, ...")
    conditions: Conditions = Field(default_factory=list, description="Trained, with reasons.")
    job: str | None = Field(default=None, max_length=63, description="The current Job.")
    spec_hash: str | None = Field(
        default=None, max_length=64, description="Hash of what the current Job trains."
    )
    config_map: str | None = Field(
        default=None, max_length=253, description="Where the artifact is published."
    )
    model_sha256: str | None = Field(
        default=None, max_length=64, description="sha256 of the published model.json."
    )
    metrics: dict[str, MetricValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Out-of-sample metrics of the published model (precision, auc, returns of "
        "the filtered and unfiltered strategy, ...), as the training printed them.",
    )
    started_at: datetime | None = Field(default=None, description="When the current Job started.")
    completed_at: datetime | None = Field(default=None, description="When it finished.")


class ModelTraining(ApiModel):
    """A training run of a strategy's meta-model, published into a ConfigMap."""

    api_version: Literal["trading.eternal-engine.io/v1alpha1"] = (
        "trading.eternal-engine.io/v1alpha1"
    )
    kind: Literal["ModelTraining"] = "ModelTraining"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ModelTrainingSpec = Field(json_schema_extra=_SPEC_RULES)
    status: ModelTrainingStatus | None = None
