"""Objects the API must refuse, with the field the refusal must name.

Both the pydantic models (unit tests) and the real API server (cluster tests) are checked
against this one table, so the Python side and the CRD cannot drift apart.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "samples"


def sample(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((SAMPLES / name).read_text()))


@dataclass(frozen=True)
class Malformed:
    id: str
    manifest: dict[str, Any]
    field: str  # the field path the API server's message must name
    words: str  # a fragment of the message that says what is wrong


def edit(name: str, path: str, value: Any, new_name: str) -> dict[str, Any]:
    obj = copy.deepcopy(sample(name))
    obj["metadata"]["name"] = new_name
    *parents, leaf = path.split(".")
    node = obj
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is _DELETE:
        del node[leaf]
    elif isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return obj


_DELETE = object()
ENGINE = "engine-trend.yaml"
CORE = "engine-core-hodl.yaml"
FUNDING = "engine-funding.yaml"
TACTICAL = "engine-tactical.yaml"
ALLOC = "allocation.yaml"
POLICY = "circuitbreakerpolicy.yaml"
NAME_WORDS = "must be a DNS-1035 label of at most 55 characters"
QUANTITY_WORDS = "must be a Kubernetes quantity"


def named(name: str, new_name: str) -> dict[str, Any]:
    obj = copy.deepcopy(sample(name))
    obj["metadata"]["name"] = new_name
    return obj


def meta_trend(field: str, value: Any, new_name: str) -> dict[str, Any]:
    """The TREND sample turned into a meta-trend engine with one param set to ``value``."""
    obj = named(ENGINE, new_name)
    obj["spec"]["strategy"] = "meta-trend"
    obj["spec"]["params"] = {"metaTrend": {field: value}}
    return obj


CASES: list[Malformed] = [
    Malformed(
        "weights-over-one",
        edit(ALLOC, "spec.targets.0.weight", 0.9, "bad-weights"),
        "spec.targets",
        "must sum to at most 1",
    ),
    Malformed(
        "weight-above-one",
        edit(ALLOC, "spec.targets.3.weight", 1.5, "bad-weight"),
        "spec.targets[3].weight",
        "less than or equal to 1",
    ),
    Malformed(
        "duplicate-allocation-target",
        edit(ALLOC, "spec.targets.1", {"engine": "core-hodl", "weight": 0.1}, "dup-target"),
        "spec.targets[1]",
        "Duplicate value",
    ),
    Malformed(
        "unknown-strategy",
        edit(ENGINE, "spec.strategy", "martingale", "bad-strategy"),
        "spec.strategy",
        'Unsupported value: "martingale"',
    ),
    Malformed(
        "unknown-venue",
        edit(ENGINE, "spec.venue", "binance", "bad-venue"),
        "spec.venue",
        'Unsupported value: "binance"',
    ),
    Malformed(
        "negative-leverage",
        edit(ENGINE, "spec.risk.maxLeverage", -2, "bad-leverage"),
        "spec.risk.maxLeverage",
        "greater than or equal to 1",
    ),
    Malformed(
        "leverage-above-ten",
        edit(ENGINE, "spec.params.trend.leverage", 25, "bad-trend-leverage"),
        "spec.params.trend.leverage",
        "less than or equal to 10",
    ),
    Malformed(
        "unordered-levels",
        edit(POLICY, "spec.levels.1.drawdown", 0.05, "bad-levels"),
        "spec.levels",
        "strictly increasing",
    ),
    Malformed(
        "level-drawdown-not-under-one",
        edit(POLICY, "spec.levels.3.drawdown", 1, "bad-level-one"),
        "spec.levels[3].drawdown",
        "less than 1",
    ),
    Malformed(
        "mainnet-without-secret",
        edit(ENGINE, "spec.venue", "mainnet", "bad-mainnet"),
        "spec.credentials",
        "mainnet Engine trades real money",
    ),
    Malformed(
        "testnet-without-secret",
        edit(ENGINE, "spec.venue", "testnet", "bad-testnet"),
        "spec.credentials",
        "required for the demo and testnet venues",
    ),
    Malformed(
        "symbols-wrong-type",
        edit(ENGINE, "spec.symbols", "BTCUSDT", "bad-symbols-type"),
        "spec.symbols",
        "must be of type array",
    ),
    Malformed(
        "symbols-empty",
        edit(ENGINE, "spec.symbols", [], "bad-symbols-empty"),
        "spec.symbols",
        "should have at least 1 items",
    ),
    Malformed(
        "symbol-lowercase",
        edit(ENGINE, "spec.symbols", ["btcusdt"], "bad-symbol-case"),
        "spec.symbols[0]",
        "should match",
    ),
    Malformed(
        "subaccount-missing",
        edit(ENGINE, "spec.subaccount", _DELETE, "bad-no-subaccount"),
        "spec.subaccount",
        "Required value",
    ),
    Malformed(
        "subaccount-not-a-bybit-username",
        edit(ENGINE, "spec.subaccount", "trend", "bad-subaccount"),
        "spec.subaccount",
        "6-16 letters and digits",
    ),
    Malformed(
        "params-for-another-strategy",
        edit(CORE, "spec.params.trend", {"smaFast": 20}, "bad-params-block"),
        "spec.params.trend",
        "only valid with strategy trend",
    ),
    Malformed(
        "sma-fast-not-below-slow",
        edit(ENGINE, "spec.params.trend.smaFast", 200, "bad-sma"),
        "spec.params.trend.smaFast",
        "smaFast must be shorter than smaSlow",
    ),
    Malformed(
        "daily-loss-above-weekly",
        edit(ENGINE, "spec.risk.dailyLossLimit", 0.2, "bad-loss-limits"),
        "spec.risk.dailyLossLimit",
        "must not exceed weeklyLossLimit",
    ),
    Malformed(
        "leverage-wrong-type",
        edit(ENGINE, "spec.risk.maxLeverage", "lots", "bad-leverage-type"),
        "spec.risk.maxLeverage",
        "must be of type number",
    ),
    Malformed(
        "unknown-field",
        edit(ENGINE, "spec.leverage", 3, "bad-unknown-field"),
        "spec.leverage",
        "unknown field",
    ),
    # -- Engine: names the operator could not build from --------------------------------------
    Malformed("name-with-a-dot", named(ENGINE, "trend.v2"), "metadata.name", NAME_WORDS),
    Malformed("name-of-56-characters", named(ENGINE, "e" * 56), "metadata.name", NAME_WORDS),
    Malformed("name-of-74-characters", named(ENGINE, "t" * 74), "metadata.name", NAME_WORDS),
    Malformed("name-starting-with-a-digit", named(ENGINE, "1trend"), "metadata.name", NAME_WORDS),
    # -- Engine: resources -----------------------------------------------------------------------
    Malformed(
        "memory-limit-lots",
        edit(ENGINE, "spec.resources", {"limits": {"memory": "lots"}}, "bad-memory"),
        "spec.resources.limits[memory]",
        QUANTITY_WORDS,
    ),
    Malformed(
        "negative-cpu-request",
        edit(ENGINE, "spec.resources", {"requests": {"cpu": "-1"}}, "bad-cpu"),
        "spec.resources.requests[cpu]",
        QUANTITY_WORDS,
    ),
    Malformed(
        "quantity-with-a-space",
        edit(ENGINE, "spec.resources", {"limits": {"memory": "1 Gi"}}, "bad-space"),
        "spec.resources.limits[memory]",
        QUANTITY_WORDS,
    ),
    Malformed(
        "quantity-lower-case-binary-suffix",
        edit(ENGINE, "spec.resources", {"requests": {"memory": "512mi"}}, "bad-suffix"),
        "spec.resources.requests[memory]",
        QUANTITY_WORDS,
    ),
    Malformed(
        "quantity-too-long",
        edit(ENGINE, "spec.resources", {"limits": {"memory": "1" * 65}}, "bad-long-quantity"),
        "spec.resources.limits.memory",
        "may not be more than 64",
    ),
    Malformed(
        "unknown-resource-name",
        edit(ENGINE, "spec.resources", {"limits": {"nvidia.com/gpu": 1}}, "bad-resource"),
        "spec.resources.limits",
        "keys must be cpu, memory or ephemeral-storage",
    ),
    Malformed(
        "request-above-limit",
        edit(
            ENGINE,
            "spec.resources",
            {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}},
            "bad-request",
        ),
        "spec.resources.requests",
        "must not exceed the limit of the same resource",
    ),
    Malformed(
        "cpu-as-a-fraction",
        edit(ENGINE, "spec.resources", {"requests": {"cpu": 0.5}}, "bad-cpu-float"),
        "spec.resources.requests.cpu",
        "must be of type integer",
    ),
    # -- Engine: image, credentials, symbols, subaccount -----------------------------------------
    Malformed(
        "image-with-a-space",
        edit(ENGINE, "spec.image", "example/runtime: 2", "bad-image"),
        "spec.image",
        "should match",
    ),
    Malformed(
        "image-empty",
        edit(ENGINE, "spec.image", "", "bad-image-empty"),
        "spec.image",
        "at least 1 chars long",
    ),
    Malformed(
        "secret-key-with-a-slash",
        edit(ENGINE, "spec.credentials", {"secretName": "keys", "apiKeyKey": "api/key"}, "bad-key"),
        "spec.credentials.apiKeyKey",
        "should match",
    ),
    Malformed(
        "secret-name-not-dns",
        edit(ENGINE, "spec.credentials", {"secretName": "Bad_Keys"}, "bad-secret-name"),
        "spec.credentials.secretName",
        "should match",
    ),
    Malformed(
        "duplicate-symbol",
        edit(ENGINE, "spec.symbols", ["BTCUSDT", "BTCUSDT"], "bad-dup-symbol"),
        "spec.symbols[1]",
        "Duplicate value",
    ),
    Malformed(
        "too-many-symbols",
        edit(ENGINE, "spec.symbols", [f"C{i:02d}USDT" for i in range(21)], "bad-many-symbols"),
        "spec.symbols",
        "must have at most 20 items",
    ),
    Malformed(
        "symbol-too-short",
        edit(ENGINE, "spec.symbols", ["B"], "bad-short-symbol"),
        "spec.symbols[0]",
        "should match",
    ),
    Malformed(
        "subaccount-too-long",
        edit(ENGINE, "spec.subaccount", "1" * 21, "bad-long-subaccount"),
        "spec.subaccount",
        "may not be more than 20",
    ),
    Malformed(
        "subaccount-with-a-dash",
        edit(ENGINE, "spec.subaccount", "trend-01", "bad-dash-subaccount"),
        "spec.subaccount",
        "should match",
    ),
    Malformed(
        "unknown-on-delete",
        edit(ENGINE, "spec.onDelete", "liquidate", "bad-on-delete"),
        "spec.onDelete",
        'Unsupported value: "liquidate"',
    ),
    Malformed(
        "suspend-as-a-string",
        edit(ENGINE, "spec.suspend", "yes", "bad-suspend"),
        "spec.suspend",
        "must be of type boolean",
    ),
    # -- Engine: risk limits ---------------------------------------------------------------------
    Malformed(
        "leverage-above-ten-in-risk",
        edit(ENGINE, "spec.risk.maxLeverage", 11, "bad-risk-leverage"),
        "spec.risk.maxLeverage",
        "less than or equal to 10",
    ),
    Malformed(
        "no-concurrent-position",
        edit(ENGINE, "spec.risk.maxConcurrentPositions", 0, "bad-positions"),
        "spec.risk.maxConcurrentPositions",
        "greater than or equal to 1",
    ),
    Malformed(
        "concurrent-positions-as-a-string",
        edit(ENGINE, "spec.risk.maxConcurrentPositions", "4", "bad-positions-type"),
        "spec.risk.maxConcurrentPositions",
        "must be of type integer",
    ),
    Malformed(
        "position-fraction-above-one",
        edit(ENGINE, "spec.risk.maxPositionFraction", 1.5, "bad-fraction"),
        "spec.risk.maxPositionFraction",
        "less than or equal to 1",
    ),
    Malformed(
        "negative-weekly-loss-limit",
        edit(ENGINE, "spec.risk.weeklyLossLimit", -0.1, "bad-weekly"),
        "spec.risk.weeklyLossLimit",
        "greater than or equal to 0",
    ),
    Malformed(
        "confidence-above-one",
        edit(ENGINE, "spec.risk.minSignalConfidence", 2, "bad-confidence"),
        "spec.risk.minSignalConfidence",
        "less than or equal to 1",
    ),
    # -- Engine: strategy parameters -------------------------------------------------------------
    Malformed(
        "sma-slow-above-2000",
        edit(ENGINE, "spec.params.trend.smaSlow", 5000, "bad-sma-slow"),
        "spec.params.trend.smaSlow",
        "less than or equal to 2000",
    ),
    Malformed(
        "unknown-kline-interval",
        edit(ENGINE, "spec.params.trend.interval", "2h", "bad-interval"),
        "spec.params.trend.interval",
        'Unsupported value: "2h"',
    ),
    Malformed(
        "risk-per-trade-above-one",
        edit(ENGINE, "spec.params.trend.riskPerTrade", 2, "bad-risk-per-trade"),
        "spec.params.trend.riskPerTrade",
        "less than or equal to 1",
    ),
    Malformed(
        "zero-atr-stop",
        edit(ENGINE, "spec.params.trend.atrStopMultiple", 0, "bad-atr"),
        "spec.params.trend.atrStopMultiple",
        "greater than 0",
    ),
    Malformed(
        "unknown-trend-parameter",
        edit(ENGINE, "spec.params.trend.fastSma", 20, "bad-param-name"),
        "spec.params.trend.fastSma",
        "unknown field",
    ),
    Malformed(
        "core-hodl-weights-over-one",
        edit(
            CORE,
            "spec.params.coreHodl.targets",
            [{"asset": "BTC", "weight": 0.7}, {"asset": "ETH", "weight": 0.4}],
            "bad-core-weights",
        ),
        "spec.params.coreHodl.targets",
        "must sum to at most 1",
    ),
    Malformed(
        "core-hodl-duplicate-asset",
        edit(
            CORE,
            "spec.params.coreHodl.targets",
            [{"asset": "BTC", "weight": 0.5}, {"asset": "BTC", "weight": 0.2}],
            "bad-core-assets",
        ),
        "spec.params.coreHodl.targets[1]",
        "Duplicate value",
    ),
    Malformed(
        "core-hodl-limit-offset-above-5-percent",
        edit(CORE, "spec.params.coreHodl.limitOffset", 0.1, "bad-offset"),
        "spec.params.coreHodl.limitOffset",
        "less than or equal to 0.05",
    ),
    Malformed(
        "funding-params-on-a-trend-engine",
        edit(ENGINE, "spec.params.funding", {"entryPeriods": 3}, "bad-funding-block"),
        "spec.params.funding",
        "only valid with strategy funding",
    ),
    Malformed(
        "funding-entry-rate-above-1-percent",
        edit(FUNDING, "spec.params.funding.entryRate", 0.5, "bad-entry-rate"),
        "spec.params.funding.entryRate",
        "less than or equal to 0.01",
    ),
    Malformed(
        "tactical-tranches-reversed",
        edit(TACTICAL, "spec.params.tactical.firstTrancheDrawdown", 0.8, "bad-tranches"),
        "spec.params.tactical.firstTrancheDrawdown",
        "firstTrancheDrawdown must be smaller than secondTrancheDrawdown",
    ),
    Malformed(
        "tactical-positive-funding-threshold",
        edit(TACTICAL, "spec.params.tactical.fundingThreshold", 0.01, "bad-funding-threshold"),
        "spec.params.tactical.fundingThreshold",
        "less than or equal to 0",
    ),
    # -- meta-trend ------------------------------------------------------------------------------
    Malformed(
        "meta-trend-ema-fast-not-below-slow",
        meta_trend("emaFast", 30, "bad-meta-ema"),
        "spec.params.metaTrend.emaFast",
        "emaFast must be shorter than emaSlow",
    ),
    Malformed(
        "meta-trend-macd-fast-not-below-slow",
        meta_trend("macdFast", 26, "bad-meta-macd"),
        "spec.params.metaTrend.macdFast",
        "macdFast must be shorter than macdSlow",
    ),
    Malformed(
        "meta-trend-rsi-extremes-crossed",
        meta_trend("rsiOversold", 75, "bad-meta-rsi"),
        "spec.params.metaTrend.rsiOversold",
        "rsiOversold must be below rsiOverbought",
    ),
    Malformed(
        "meta-trend-confidence-below-a-coin-flip",
        meta_trend("confidenceThreshold", 0.4, "bad-meta-confidence"),
        "spec.params.metaTrend.confidenceThreshold",
        "greater than or equal to 0.5",
    ),
    Malformed(
        "meta-trend-model-configmap-not-a-name",
        meta_trend("modelConfigMap", "Model_v1", "bad-meta-configmap"),
        "spec.params.metaTrend.modelConfigMap",
        "should match",
    ),
    Malformed(
        "meta-trend-params-on-a-trend-engine",
        edit(ENGINE, "spec.params.metaTrend", {"emaFast": 5}, "bad-meta-block"),
        "spec.params.metaTrend",
        "only valid with strategy meta-trend",
    ),
    # -- Allocation ------------------------------------------------------------------------------
    Malformed(
        "weights-over-the-bound-by-a-millionth",
        edit(ALLOC, "spec.targets.3.weight", 0.050002, "bad-weights-bound"),
        "spec.targets",
        "must sum to at most 1",
    ),
    Malformed(
        "allocation-engine-with-a-dot",
        edit(ALLOC, "spec.targets.0.engine", "core.hodl", "bad-target-name"),
        "spec.targets[0].engine",
        "should match",
    ),
    Malformed(
        "allocation-without-targets",
        edit(ALLOC, "spec.targets", [], "bad-no-targets"),
        "spec.targets",
        "should have at least 1 items",
    ),
    Malformed(
        "negative-weight",
        edit(ALLOC, "spec.targets.3.weight", -0.05, "bad-negative-weight"),
        "spec.targets[3].weight",
        "greater than or equal to 0",
    ),
    Malformed(
        "drift-threshold-above-one",
        edit(ALLOC, "spec.driftThreshold", 2, "bad-drift"),
        "spec.driftThreshold",
        "less than or equal to 1",
    ),
    Malformed(
        "weekly-calendar",
        edit(ALLOC, "spec.calendarFallback", "weekly", "bad-calendar"),
        "spec.calendarFallback",
        'Unsupported value: "weekly"',
    ),
    Malformed(
        "negative-contribution",
        edit(ALLOC, "spec.monthlyContribution", -100, "bad-contribution"),
        "spec.monthlyContribution",
        "greater than or equal to 0",
    ),
    Malformed(
        "master-secret-key-empty",
        edit(ALLOC, "spec.masterCredentials", {"secretName": "m", "apiSecretKey": ""}, "bad-mk"),
        "spec.masterCredentials.apiSecretKey",
        "at least 1 chars long",
    ),
    # -- CircuitBreakerPolicy --------------------------------------------------------------------
    Malformed(
        "level-five",
        edit(POLICY, "spec.levels.3.level", 5, "bad-level-five"),
        "spec.levels[3].level",
        "less than or equal to 4",
    ),
    Malformed(
        "duplicate-level",
        edit(POLICY, "spec.levels.1.level", 1, "bad-dup-level"),
        "spec.levels[1]",
        "Duplicate value",
    ),
    Malformed(
        "levels-out-of-order",
        edit(
            POLICY,
            "spec.levels",
            [{"level": 2, "drawdown": 0.15}, {"level": 1, "drawdown": 0.1}],
            "bad-level-order",
        ),
        "spec.levels",
        "increasing level order",
    ),
    Malformed(
        "zero-drawdown",
        edit(POLICY, "spec.levels.0.drawdown", 0, "bad-zero-drawdown"),
        "spec.levels[0].drawdown",
        "greater than 0",
    ),
    Malformed(
        "policy-daily-above-weekly",
        edit(POLICY, "spec.dailyLossLimit", 0.2, "bad-policy-limits"),
        "spec.dailyLossLimit",
        "must not exceed weeklyLossLimit",
    ),
    Malformed(
        "stale-after-zero",
        edit(POLICY, "spec.staleAfterSeconds", 0, "bad-stale"),
        "spec.staleAfterSeconds",
        "greater than or equal to 1",
    ),
    Malformed(
        "unknown-on-unknown",
        edit(POLICY, "spec.onUnknown", "Panic", "bad-on-unknown"),
        "spec.onUnknown",
        'Unsupported value: "Panic"',
    ),
    Malformed(
        "halt-deadline-above-an-hour",
        edit(POLICY, "spec.haltDeadlineSeconds", 100000, "bad-deadline"),
        "spec.haltDeadlineSeconds",
        "less than or equal to 3600",
    ),
    Malformed(
        "five-levels",
        edit(
            POLICY,
            "spec.levels",
            [{"level": n, "drawdown": n / 10} for n in (1, 2, 3, 4)]
            + [{"level": 4, "drawdown": 0.5}],
            "bad-five-levels",
        ),
        "spec.levels",
        "must have at most 4 items",
    ),
    Malformed(
        "selector-operator-like",
        edit(
            POLICY,
            "spec.selector",
            {"matchExpressions": [{"key": "tier", "operator": "Like", "values": ["a"]}]},
            "bad-selector",
        ),
        "spec.selector.matchExpressions[0].operator",
        'Unsupported value: "Like"',
    ),
    Malformed(
        "emergency-halt-as-a-string",
        edit(POLICY, "spec.emergencyHalt", "now", "bad-halt-type"),
        "spec.emergencyHalt",
        "must be of type boolean",
    ),
]
