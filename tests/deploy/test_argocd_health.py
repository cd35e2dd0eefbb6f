"""The Argo CD health checks (Lua, manifests/argocd/health/) run against sample statuses in
Lua 5.1, the language of Argo CD's gopher-lua, inside a sandbox with only the libraries Argo CD
offers. Every sample status is first validated by the typed API, so the samples are shapes the
operator can really write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua51 as lua51
import pytest

from deploy.tooling import ARGOCD, kustomize, one
from eternal_kernel.api.v1alpha1 import (
    AllocationStatus,
    BacktestStatus,
    CircuitBreakerPolicyStatus,
    EngineStatus,
    ModelTrainingStatus,
)

pytestmark = pytest.mark.unit

HEALTH = ARGOCD / "health"
NOW = "2026-11-21T10:00:00Z"

SANDBOX = """
return function(source, obj)
  local env = {obj = obj, ipairs = ipairs, pairs = pairs, tostring = tostring,
               tonumber = tonumber, type = type, string = string, table = table, math = math}
  local chunk = assert(loadstring(source, "health"))
  setfenv(chunk, env)
  return chunk()
end
"""


def run_health(script: Path, obj: dict[str, Any]) -> tuple[str, str]:
    runtime = lua51.LuaRuntime()
    run = runtime.execute(SANDBOX)
    result = run(script.read_text(), runtime.table_from(obj, recursive=True))
    return result["status"], result["message"] or ""


def condition(kind: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": NOW,
    }


def engine(status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "trading.eternal-engine.io/v1alpha1",
        "kind": "Engine",
        "metadata": {"name": "trend", "generation": generation},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": "trend"},
    }
    if status is not None:
        EngineStatus.model_validate(status)
        obj["status"] = status
    return obj


def policy(status: dict[str, Any] | None, emergency_halt: bool = False) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "kind": "CircuitBreakerPolicy",
        "metadata": {"name": "eternal", "generation": 1},
        "spec": {"emergencyHalt": emergency_halt},
    }
    if status is not None:
        CircuitBreakerPolicyStatus.model_validate(status)
        obj["status"] = status
    return obj


READY = condition("Ready", "True", "Running", "Trading on simulator")
ENGINE_CASES = [
    ("no status yet", None, "Progressing", "Waiting"),
    ("pending", {"phase": "Pending", "observedGeneration": 1}, "Progressing", "Pending"),
    ("starting", {"phase": "Starting", "observedGeneration": 1}, "Progressing", "Starting"),
    (
        "running",
        {
            "phase": "Running",
            "observedGeneration": 1,
            "conditions": [READY, condition("VenueConnected", "True", "Connected")],
            "runtime": {"equity": "10234.50", "heartbeat": NOW, "openOrders": 2},
        },
        "Healthy",
        "Trading on simulator",
    ),
    (
        "running but not ready",
        {
            "phase": "Running",
            "observedGeneration": 1,
            "conditions": [condition("Ready", "False", "VenueDisconnected", "stream down")],
        },
        "Degraded",
        "stream down",
    ),
    (
        "degraded",
        {
            "phase": "Degraded",
            "observedGeneration": 1,
            "conditions": [condition("Ready", "False", "HeartbeatStale", "no heartbeat for 45s")],
        },
        "Degraded",
        "no heartbeat for 45s",
    ),
    (
        "failed",
        {
            "phase": "Failed",
            "observedGeneration": 1,
            "conditions": [condition("Ready", "False", "MainnetNotAllowed", "mainnet refused")],
        },
        "Degraded",
        "mainnet refused",
    ),
    ("halting", {"phase": "Halting", "observedGeneration": 1}, "Progressing", "Halting"),
    (
        "halted",
        {
            "phase": "Halted",
            "observedGeneration": 1,
            "conditions": [condition("Halted", "True", "BreakerLevel4", "drawdown 25.3%")],
        },
        "Suspended",
        "Halted: drawdown 25.3%",
    ),
    ("suspended", {"phase": "Suspended", "observedGeneration": 1}, "Suspended", "Suspended"),
]


@pytest.mark.parametrize(
    ("status", "health", "message"),
    [case[1:] for case in ENGINE_CASES],
    ids=[case[0] for case in ENGINE_CASES],
)
def test_engine_health(status: dict[str, Any] | None, health: str, message: str) -> None:
    got, text = run_health(HEALTH / "engine.lua", engine(status))
    assert got == health
    assert message in text


def test_engine_with_a_status_older_than_its_spec_is_progressing() -> None:
    status = {"phase": "Running", "observedGeneration": 2, "conditions": [READY]}
    assert run_health(HEALTH / "engine.lua", engine(status, generation=3))[0] == "Progressing"
    assert run_health(HEALTH / "engine.lua", engine(status, generation=2))[0] == "Healthy"


def test_engine_with_an_unknown_phase_is_unknown() -> None:
    obj = engine(None)
    obj["status"] = {"phase": "Exploded"}  # not valid per the API: a future phase, say
    assert run_health(HEALTH / "engine.lua", obj) == ("Unknown", "Unknown phase Exploded")


POLICY_CASES = [
    ("not measured yet", None, False, "Progressing", "Waiting"),
    (
        "level 0",
        {"observedGeneration": 1, "level": 0, "halted": False, "drawdown": "0.031"},
        False,
        "Healthy",
        "Level 0 (drawdown 0.031)",
    ),
    (
        "level 2",
        {"observedGeneration": 1, "level": 2, "halted": False, "drawdown": "0.162"},
        False,
        "Degraded",
        "Breaker level 2 in force (drawdown 0.162)",
    ),
    (
        "halted",
        {
            "observedGeneration": 1,
            "level": 4,
            "halted": True,
            "haltReason": "drawdown 25.1% >= 25%",
            "conditions": [condition("Halted", "True", "BreakerLevel4")],
        },
        False,
        "Degraded",
        "HALTED (latched): drawdown 25.1% >= 25%",
    ),
    (
        "emergency halt requested",
        {"observedGeneration": 1, "level": 0, "halted": False},
        True,
        "Progressing",
        "emergencyHalt requested",
    ),
    (
        "halt latched after Git reverted emergencyHalt",
        {"observedGeneration": 1, "level": 0, "halted": True, "haltReason": "emergencyHalt"},
        False,
        "Degraded",
        "HALTED (latched): emergencyHalt",
    ),
    (
        "not ready",
        {
            "observedGeneration": 1,
            "level": 0,
            "conditions": [condition("Ready", "False", "EquityUnknown", "2 engines silent")],
        },
        False,
        "Degraded",
        "2 engines silent",
    ),
]


@pytest.mark.parametrize(
    ("status", "emergency_halt", "health", "message"),
    [case[1:] for case in POLICY_CASES],
    ids=[case[0] for case in POLICY_CASES],
)
def test_circuit_breaker_policy_health(
    status: dict[str, Any] | None, emergency_halt: bool, health: str, message: str
) -> None:
    got, text = run_health(HEALTH / "circuitbreakerpolicy.lua", policy(status, emergency_halt))
    assert got == health
    assert message in text


def test_allocation_health() -> None:
    script = HEALTH / "allocation.lua"
    base: dict[str, Any] = {"kind": "Allocation", "metadata": {"name": "eternal"}}
    assert run_health(script, base)[0] == "Progressing"
    fine = {"maxDrift": "0.04", "conditions": [condition("Ready", "True", "Balanced")]}
    AllocationStatus.model_validate(fine)
    assert run_health(script, {**base, "status": fine}) == ("Healthy", "Max drift 0.04")
    bad = {"conditions": [condition("Ready", "False", "TransferFailed", "131001")]}
    AllocationStatus.model_validate(bad)
    assert run_health(script, {**base, "status": bad}) == ("Degraded", "131001")


def test_model_training_health() -> None:
    script = HEALTH / "modeltraining.lua"
    base: dict[str, Any] = {"kind": "ModelTraining", "metadata": {"name": "mt", "generation": 2}}
    assert run_health(script, base)[0] == "Progressing"

    def status(phase: str, state: str, reason: str, message: str, **more: Any) -> dict[str, Any]:
        body = {"phase": phase, "observedGeneration": 2,
                "conditions": [condition("Trained", state, reason, message)], **more}  # fmt: skip
        ModelTrainingStatus.model_validate(body)
        return {**base, "status": body}

    done = status("Succeeded", "True", "Trained", "published", configMap="mt-model",
                  metrics={"precision": "0.6250", "auc": "0.5912"})  # fmt: skip
    assert run_health(script, done) == (
        "Healthy", "Published into mt-model; precision 0.6250, AUC 0.5912"
    )  # fmt: skip
    failed = status("Failed", "False", "TrainingFailed", "train: data too short")
    assert run_health(script, failed) == ("Degraded", "train: data too short")
    running = status("Running", "Unknown", "Training", "the training pod runs")
    assert run_health(script, running) == ("Progressing", "Running: the training pod runs")
    stale = {**done, "metadata": {"name": "mt", "generation": 3}}  # a new spec, not trained yet
    assert run_health(script, stale)[0] == "Progressing"


def test_backtest_health() -> None:
    script = HEALTH / "backtest.lua"
    base: dict[str, Any] = {"kind": "Backtest", "metadata": {"name": "bt", "generation": 1}}
    assert run_health(script, base)[0] == "Progressing"

    def status(phase: str, state: str, reason: str, message: str, **more: Any) -> dict[str, Any]:
        body = {"phase": phase, "observedGeneration": 1,
                "conditions": [condition("Completed", state, reason, message)], **more}  # fmt: skip
        BacktestStatus.model_validate(body)
        return {**base, "status": body}

    running = status("Running", "Unknown", "Running", "2 shard pods run", progress="1/4")
    assert run_health(script, running) == ("Progressing", "Running: 1/4 shards")
    done = status("Succeeded", "True", "Completed", "ranked", progress="4/4", bestScore="1.41")
    assert run_health(script, done) == ("Healthy", "Best score 1.41; 4/4 shards")
    failed = status("Failed", "False", "BackoffLimitExceeded", "Job has reached the limit")
    assert run_health(script, failed) == ("Degraded", "Job has reached the limit")


def application(
    health: str | None,
    sync: str | None = "Synced",
    operation: str | None = None,
    message: str = "",
) -> dict[str, Any]:
    """A child Application of the app of apps, with the status Argo CD writes."""
    obj: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "eternal-engine-operator", "namespace": "argocd"},
        "spec": {"project": "eternal-engine"},
    }
    status: dict[str, Any] = {}
    if health is not None:
        status["health"] = {"status": health}
        if message:
            status["health"]["message"] = message
    if sync is not None:
        status["sync"] = {"status": sync, "revision": "0123abc"}
    if operation is not None:
        status["operationState"] = {"phase": operation, "message": message}
    if status:
        obj["status"] = status
    return obj


APPLICATION_CASES = [
    ("no status yet", application(None, sync=None), "Progressing", "Waiting"),
    ("healthy and synced", application("Healthy"), "Healthy", ""),
    (
        "healthy at the previous revision, not synced yet",
        application("Healthy", sync="OutOfSync"),
        "Progressing",
        "Healthy but OutOfSync",
    ),
    (
        "healthy, sync status not reported",
        application("Healthy", sync=None),
        "Progressing",
        "Healthy but Unknown",
    ),
    (
        "progressing",
        application("Progressing", message="Waiting for rollout to finish"),
        "Progressing",
        "Waiting for rollout to finish",
    ),
    (
        "degraded",
        application("Degraded", message="Deployment exceeded its progress deadline"),
        "Degraded",
        "Deployment exceeded its progress deadline",
    ),
    (
        "sync running",
        application("Healthy", operation="Running", message="waiting for healthy state"),
        "Progressing",
        "Sync operation Running: waiting for healthy state",
    ),
    (
        "sync failed",
        application("Healthy", operation="Failed", message="one or more objects failed"),
        "Degraded",
        "Sync Failed: one or more objects failed",
    ),
    ("sync succeeded", application("Healthy", operation="Succeeded"), "Healthy", ""),
    ("missing", application("Missing", sync="OutOfSync"), "Missing", ""),
    ("suspended", application("Suspended"), "Suspended", ""),
]


@pytest.mark.parametrize(
    ("obj", "health", "message"),
    [case[1:] for case in APPLICATION_CASES],
    ids=[case[0] for case in APPLICATION_CASES],
)
def test_application_health(obj: dict[str, Any], health: str, message: str) -> None:
    got, text = run_health(HEALTH / "application.lua", obj)
    assert got == health
    assert message in text


def test_argocd_cm_carries_exactly_these_scripts() -> None:
    cm = one(kustomize(HEALTH), "ConfigMap", "argocd-cm")
    prefix = "resource.customizations.health.trading.eternal-engine.io_"
    assert cm["metadata"]["namespace"] == "argocd"
    assert cm["data"] == {
        f"{prefix}Engine": (HEALTH / "engine.lua").read_text(),
        f"{prefix}CircuitBreakerPolicy": (HEALTH / "circuitbreakerpolicy.lua").read_text(),
        f"{prefix}Allocation": (HEALTH / "allocation.lua").read_text(),
        f"{prefix}ModelTraining": (HEALTH / "modeltraining.lua").read_text(),
        f"{prefix}Backtest": (HEALTH / "backtest.lua").read_text(),
        # Argo CD's own kind: the app of apps' sync waves wait for each child to be Healthy.
        "resource.customizations.health.argoproj.io_Application": (
            HEALTH / "application.lua"
        ).read_text(),
    }
