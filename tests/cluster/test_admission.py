"""The admission policies on the real API server: a runtime's own token writes its
`status.runtime` and nothing else (no forged directive), nobody but the operator writes policy
status, and a latched halt cannot be deleted away."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from eternal_operator.controllers.engine import render
from eternal_operator.devtools.controlplane import ControlPlane
from support.kube import apply, get

pytestmark = pytest.mark.cluster


def engine(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
        "metadata": {"name": name},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": "100001"},
    }  # fmt: skip


POLICY = {
    "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "CircuitBreakerPolicy",
    "metadata": {"name": "eternal"}, "spec": {},
}  # fmt: skip


def grant_everything(plane: ControlPlane, ns: str, engine_name: str) -> None:
    """RBAC lets the engine's runtime do anything in the namespace: admission still says no."""
    plane.kubectl(
        "create", "rolebinding", "too-wide", "-n", ns, "--clusterrole=cluster-admin",
        f"--serviceaccount={ns}:{engine_name}-runtime",
    )  # fmt: skip


def runtime_identity(plane: ControlPlane, ns: str, name: str) -> str:
    """The runtime's ServiceAccount and Role as the operator renders them; a token of it."""
    created = get(plane, "engine", name, ns)
    assert created is not None
    ref = render.EngineRef(name, ns, created["metadata"]["uid"])
    for obj in (render.service_account(ref), render.role(ref), render.role_binding(ref)):
        apply(plane, ns, obj)
    return plane.kubectl("create", "token", f"{name}-runtime", "-n", ns).stdout.strip()


def patch_as(
    plane: ControlPlane, token: str, ns: str, kind: str, name: str, status: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    return plane.kubectl(
        "patch", kind, name, "-n", ns, "--subresource=status", "--type=merge",
        f"--token={token}", "-p", json.dumps({"status": status}), check=False,
    )  # fmt: skip


def test_a_runtime_token_writes_its_runtime_status_and_cannot_forge_a_directive(
    control_plane: ControlPlane, namespace: str
) -> None:
    apply(control_plane, namespace, engine("victim"))
    apply(control_plane, namespace, engine("other"))
    token = runtime_identity(control_plane, namespace, "victim")
    halted = {"governance": {"sequence": 3, "policy": "eternal", "halt": True, "reason": "crash"}}
    admin = control_plane.kubectl(
        "patch", "engine", "victim", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": halted}),
    )  # fmt: skip
    assert admin.returncode == 0  # the operator's identity (here the admin) may

    report = patch_as(control_plane, token, namespace, "engine", "victim",
                      {"runtime": {"equity": "1000", "flat": True}})  # fmt: skip
    assert report.returncode == 0, report.stderr

    for forged in (
        {"governance": {"sequence": 4, "policy": "eternal", "halt": False}},
        {"governance": None},
        {"allocation": {"targetWeight": "1"}},
        {"phase": "Running"},
        {
            "shutdown": {"reason": "Suspend", "requestedAt": "2026-01-01T00:00:00Z"},
            "runtime": {"equity": "1"},
        },
        {"credentialsSecret": "someone-elses-keys"},
    ):
        refused = patch_as(control_plane, token, namespace, "engine", "victim", forged)
        assert refused.returncode != 0, forged
        assert "only the operator writes an Engine status" in refused.stderr, refused.stderr
    status = (get(control_plane, "engine", "victim", namespace) or {})["status"]
    assert status["governance"]["halt"] is True
    assert status["runtime"]["equity"] == "1000"

    # Its token reaches no other engine (RBAC), and another engine's runtime cannot write here.
    assert patch_as(control_plane, token, namespace, "engine", "other",
                    {"runtime": {"equity": "1"}}).returncode != 0  # fmt: skip
    other = runtime_identity(control_plane, namespace, "other")
    grant_everything(control_plane, namespace, "other")
    wide = patch_as(control_plane, other, namespace, "engine", "victim",
                    {"runtime": {"flat": True}})  # fmt: skip
    assert wide.returncode != 0
    assert "may not" in wide.stderr


def test_only_the_operator_writes_policy_allocation_training_and_backtest_status(
    control_plane: ControlPlane, namespace: str
) -> None:
    apply(control_plane, namespace, POLICY)
    apply(control_plane, namespace, engine("e1"))
    apply(control_plane, namespace, {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Allocation",
        "metadata": {"name": "eternal"}, "spec": {"targets": [{"engine": "e1", "weight": 0.5}]},
    })  # fmt: skip
    apply(control_plane, namespace, {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "ModelTraining",
        "metadata": {"name": "eternal"},
        "spec": {"outputConfigMap": "m", "data": {"venueHistory": {"symbols": ["BTCUSDT"]}}},
    })  # fmt: skip
    apply(control_plane, namespace, {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Backtest",
        "metadata": {"name": "eternal"},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"],
                 "data": {"venueHistory": {"bars": 100}}},
    })  # fmt: skip
    token = runtime_identity(control_plane, namespace, "e1")
    grant_everything(control_plane, namespace, "e1")
    for kind, plural, status in (
        ("cbp", "circuitbreakerpolicies", {"halted": False}),
        ("alloc", "allocations", {"transfers": []}),
        ("modeltraining", "modeltrainings", {"phase": "Succeeded"}),  # a forged training
        ("backtest", "backtests", {"bestParams": {"smaFast": "1"}}),  # a forged ranking
    ):
        refused = patch_as(control_plane, token, namespace, kind, "eternal", status)
        assert refused.returncode != 0
        assert f"only the operator writes the status of {plural}" in refused.stderr


def test_a_policy_holding_a_latched_halt_cannot_be_deleted_until_it_is_reset(
    control_plane: ControlPlane, namespace: str
) -> None:
    apply(control_plane, namespace, POLICY)
    status = ("patch", "cbp", "eternal", "-n", namespace, "--subresource=status", "--type=merge")
    control_plane.kubectl(*status, "-p", '{"status":{"halted":true}}')
    refused = control_plane.kubectl("delete", "cbp", "eternal", "-n", namespace, check=False)
    assert refused.returncode != 0
    assert "holds a latched halt" in refused.stderr
    control_plane.kubectl(*status, "-p", '{"status":{"halted":false}}')
    control_plane.kubectl("delete", "cbp", "eternal", "-n", namespace)
