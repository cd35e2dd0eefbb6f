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


def _edit(name: str, path: str, value: Any, new_name: str) -> dict[str, Any]:
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
ALLOC = "allocation.yaml"
POLICY = "circuitbreakerpolicy.yaml"

CASES: list[Malformed] = [
    Malformed(
        "weights-over-one",
        _edit(ALLOC, "spec.targets.0.weight", 0.9, "bad-weights"),
        "spec.targets",
        "must sum to at most 1",
    ),
    Malformed(
        "weight-above-one",
        _edit(ALLOC, "spec.targets.3.weight", 1.5, "bad-weight"),
        "spec.targets[3].weight",
        "less than or equal to 1",
    ),
    Malformed(
        "duplicate-allocation-target",
        _edit(ALLOC, "spec.targets.1", {"engine": "core-hodl", "weight": 0.1}, "dup-target"),
        "spec.targets[1]",
        "Duplicate value",
    ),
    Malformed(
        "unknown-strategy",
        _edit(ENGINE, "spec.strategy", "scalper", "bad-strategy"),
        "spec.strategy",
        'Unsupported value: "scalper"',
    ),
    Malformed(
        "unknown-venue",
        _edit(ENGINE, "spec.venue", "binance", "bad-venue"),
        "spec.venue",
        'Unsupported value: "binance"',
    ),
    Malformed(
        "negative-leverage",
        _edit(ENGINE, "spec.risk.maxLeverage", -2, "bad-leverage"),
        "spec.risk.maxLeverage",
        "greater than or equal to 1",
    ),
    Malformed(
        "leverage-above-ten",
        _edit(ENGINE, "spec.params.trend.leverage", 25, "bad-trend-leverage"),
        "spec.params.trend.leverage",
        "less than or equal to 10",
    ),
    Malformed(
        "unordered-levels",
        _edit(POLICY, "spec.levels.1.drawdown", 0.05, "bad-levels"),
        "spec.levels",
        "strictly increasing",
    ),
    Malformed(
        "level-drawdown-not-under-one",
        _edit(POLICY, "spec.levels.3.drawdown", 1, "bad-level-one"),
        "spec.levels[3].drawdown",
        "less than 1",
    ),
    Malformed(
        "mainnet-without-secret",
        _edit(ENGINE, "spec.venue", "mainnet", "bad-mainnet"),
        "spec.credentials",
        "mainnet Engine trades real money",
    ),
    Malformed(
        "testnet-without-secret",
        _edit(ENGINE, "spec.venue", "testnet", "bad-testnet"),
        "spec.credentials",
        "required for the demo and testnet venues",
    ),
    Malformed(
        "symbols-wrong-type",
        _edit(ENGINE, "spec.symbols", "BTCUSDT", "bad-symbols-type"),
        "spec.symbols",
        "must be of type array",
    ),
    Malformed(
        "symbols-empty",
        _edit(ENGINE, "spec.symbols", [], "bad-symbols-empty"),
        "spec.symbols",
        "should have at least 1 items",
    ),
    Malformed(
        "symbol-lowercase",
        _edit(ENGINE, "spec.symbols", ["btcusdt"], "bad-symbol-case"),
        "spec.symbols[0]",
        "should match",
    ),
    Malformed(
        "subaccount-missing",
        _edit(ENGINE, "spec.subaccount", _DELETE, "bad-no-subaccount"),
        "spec.subaccount",
        "Required value",
    ),
    Malformed(
        "subaccount-not-a-bybit-username",
        _edit(ENGINE, "spec.subaccount", "trend", "bad-subaccount"),
        "spec.subaccount",
        "6-16 letters and digits",
    ),
    Malformed(
        "params-for-another-strategy",
        _edit(CORE, "spec.params.trend", {"smaFast": 20}, "bad-params-block"),
        "spec.params.trend",
        "only valid with strategy trend",
    ),
    Malformed(
        "sma-fast-not-below-slow",
        _edit(ENGINE, "spec.params.trend.smaFast", 200, "bad-sma"),
        "spec.params.trend.smaFast",
        "smaFast must be shorter than smaSlow",
    ),
    Malformed(
        "daily-loss-above-weekly",
        _edit(ENGINE, "spec.risk.dailyLossLimit", 0.2, "bad-loss-limits"),
        "spec.risk.dailyLossLimit",
        "must not exceed weeklyLossLimit",
    ),
    Malformed(
        "leverage-wrong-type",
        _edit(ENGINE, "spec.risk.maxLeverage", "lots", "bad-leverage-type"),
        "spec.risk.maxLeverage",
        "must be of type number",
    ),
    Malformed(
        "unknown-field",
        _edit(ENGINE, "spec.leverage", 3, "bad-unknown-field"),
        "spec.leverage",
        "unknown field",
    ),
]
