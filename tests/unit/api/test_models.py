"""The API models refuse what the API server refuses, and read the samples as written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from eternal_kernel.api.v1alpha1 import (
    Allocation,
    Backtest,
    CircuitBreakerPolicy,
    Engine,
    Strategy,
    StrategyParams,
    Venue,
)
from eternal_kernel.api.v1alpha1.base import WEIGHTS_SUM_RULE, ApiModel, weights_within_bound
from eternal_kernel.api.v1alpha1.strategy_params import (
    CoreHodlParams,
    MetaTrendParams,
    TrendParams,
)
from support.boundaries import BOUNDARIES, Boundary
from support.malformed import CASES, SAMPLES, Malformed, sample

pytestmark = pytest.mark.unit

MODELS: dict[str, type[BaseModel]] = {
    "Engine": Engine,
    "Allocation": Allocation,
    "CircuitBreakerPolicy": CircuitBreakerPolicy,
    "Backtest": Backtest,
}


def parse(manifest: dict[str, Any]) -> BaseModel:
    return MODELS[manifest["kind"]].model_validate(manifest)


OBJECT_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("name", OBJECT_SAMPLES)
def test_samples_parse(name: str) -> None:
    manifest = sample(name)
    assert parse(manifest).model_dump(by_alias=True, exclude_none=True)["kind"] == manifest["kind"]


def test_sample_fleet_is_the_eternal_engine() -> None:
    # meta-trend trades only on a trained model (issue 20), so it is not in the sample fleet
    fleet = [s for s in Strategy if s is not Strategy.META_TREND]
    engines = [Engine.model_validate(sample(f"engine-{n}.yaml")) for n in fleet]
    assert [e.spec.strategy for e in engines] == fleet
    assert all(e.spec.venue is Venue.SIMULATOR for e in engines)
    allocation = Allocation.model_validate(sample("allocation.yaml"))
    weights = {t.engine: t.weight for t in allocation.spec.targets}
    assert weights == {
        "core-hodl": Decimal("0.60"),
        "trend": Decimal("0.20"),
        "funding": Decimal("0.15"),
        "tactical": Decimal("0.05"),
    }
    policy = CircuitBreakerPolicy.model_validate(sample("circuitbreakerpolicy.yaml"))
    assert [lvl.drawdown for lvl in policy.spec.levels] == [
        Decimal("0.10"), Decimal("0.15"), Decimal("0.20"), Decimal("0.25"),
    ]  # fmt: skip
    assert policy.spec.levels[-1].halt
    assert not policy.spec.levels[-2].halt


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_malformed_object_is_refused(case: Malformed) -> None:
    with pytest.raises(ValidationError):
        parse(case.manifest)


def test_the_table_is_large_and_its_cases_distinct() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({(c.manifest["kind"], c.manifest["metadata"]["name"]) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", BOUNDARIES, ids=lambda c: c.id)
def test_a_boundary_object_is_decided_as_the_server_decides(case: Boundary) -> None:
    # tests/cluster/test_crds.py checks the same verdicts against the real API server.
    if case.accepted:
        parse(case.manifest)
    else:
        with pytest.raises(ValidationError):
            parse(case.manifest)


def test_numbers_are_read_as_the_server_stores_them() -> None:
    manifest = sample("engine-trend.yaml")
    manifest["spec"]["risk"]["dailyLossLimit"] = Decimal("0.02000000000000000001")
    manifest["spec"]["params"]["trend"]["riskPerTrade"] = 0.01
    engine = Engine.model_validate(manifest)
    assert engine.spec.risk.daily_loss_limit == Decimal("0.02")  # what the server gives back
    assert engine.spec.strategy_params().risk_per_trade == Decimal("0.01")
    assert Engine.model_validate(engine.model_dump(mode="json", by_alias=True)) == engine


def test_each_model_reads_a_field_name_as_its_own_type() -> None:
    # How a field is read is looked up once per model and field name (`base._kinds`): the
    # same name declared a bool in one model and a number or a string in others, and a
    # subclass that redeclares it, each still read by its own declaration, in any order.
    class Flag(ApiModel):
        value: bool

    class Amount(ApiModel):
        value: Decimal

    class Label(ApiModel):
        value: str

    class Count(Flag):
        value: int  # type: ignore[assignment]

    for _ in range(2):
        assert Flag.model_validate({"value": True}).value is True
        with pytest.raises(ValidationError, match="must be of type boolean"):
            Flag.model_validate({"value": "yes"})
        assert Amount.model_validate({"value": 0.05000000000000000001}).value == Decimal("0.05")
        assert Label.model_validate({"value": "yes"}).value == "yes"
        assert Count.model_validate({"value": 5}).value == 5
        with pytest.raises(ValidationError, match="must be of type integer"):
            Count.model_validate({"value": "5"})


def test_allocation_weights_sum_as_cel_sums_them() -> None:
    # 0.05 + 0.55 + 0.3 + 0.1 is 1.0000000000000002 in doubles, under the bound: both accept.
    assert weights_within_bound([Decimal("0.05"), Decimal("0.55"), Decimal("0.3"), Decimal("0.1")])
    assert weights_within_bound([Decimal("0.5"), Decimal("0.5000009")])
    # At the bound in decimals, 1.0000010000000001 in doubles: refused, as CEL refuses it.
    assert not weights_within_bound([Decimal("0.5"), Decimal("0.500001")])
    assert not weights_within_bound([Decimal("0.5"), Decimal("0.5000011")])
    assert WEIGHTS_SUM_RULE == "self.map(t, t.weight).sum() <= 1.000001"


def test_decimal_fields_stay_exact() -> None:
    # 0.1 as a YAML float must arrive as Decimal('0.1'), not 0.1000000000000000055...
    engine = Engine.model_validate(sample("engine-trend.yaml"))
    assert engine.spec.risk.daily_loss_limit == Decimal("0.02")
    assert isinstance(engine.spec.risk.max_leverage, Decimal)


def test_strategy_params_default_when_omitted() -> None:
    manifest = sample("engine-core-hodl.yaml")
    del manifest["spec"]["params"]
    engine = Engine.model_validate(manifest)
    params = engine.spec.strategy_params()
    assert isinstance(params, CoreHodlParams)
    assert [t.asset for t in params.targets] == ["BTC", "ETH"]


def test_strategy_params_returns_the_given_block() -> None:
    engine = Engine.model_validate(sample("engine-trend.yaml"))
    params = engine.spec.strategy_params()
    assert isinstance(params, TrendParams)
    assert params.sma_fast == 50
    assert params.sma_slow == 200


def test_wire_names_are_camel_case() -> None:
    dumped = StrategyParams(trend=TrendParams()).model_dump(by_alias=True, exclude_none=True)
    assert set(dumped["trend"]) >= {"smaFast", "smaSlow", "atrStopMultiple", "riskPerTrade"}


def test_models_are_frozen() -> None:
    engine = Engine.model_validate(sample("engine-trend.yaml"))
    with pytest.raises(ValidationError):
        engine.spec.suspend = True  # type: ignore[misc]


def test_meta_trend_params_default_to_the_design() -> None:
    manifest = sample("engine-trend.yaml")
    manifest["spec"]["strategy"] = "meta-trend"
    manifest["spec"]["params"] = {"metaTrend": {"modelConfigMap": "meta-trend-model"}}
    params = Engine.model_validate(manifest).spec.strategy_params()
    assert isinstance(params, MetaTrendParams)
    assert (params.ema_fast, params.ema_slow, params.macd_slow) == (9, 21, 26)
    assert params.confidence_threshold == Decimal("0.6")
    assert params.model_config_map == "meta-trend-model"
