"""The CRDs against a real kube-apiserver: install, samples, printer columns, explain, defaults,
the status subresource, and the refusal of malformed objects."""

from __future__ import annotations

import json

import pytest
import yaml

from eternal_kernel.api.kinds import KINDS
from eternal_operator.devtools.controlplane import ControlPlane
from support.boundaries import BOUNDARIES, Boundary, to_json
from support.malformed import CASES, SAMPLES, Malformed, sample

pytestmark = pytest.mark.cluster


def apply(plane: ControlPlane, namespace: str, obj: dict[str, object], *extra: str) -> None:
    plane.kubectl("apply", "-n", namespace, "-f", "-", *extra, input=yaml.safe_dump(obj))


def test_every_crd_is_established(control_plane: ControlPlane) -> None:
    for info in KINDS:
        out = control_plane.kubectl("get", "crd", info.crd_name, "-o", "json").stdout
        conditions = {c["type"]: c["status"] for c in json.loads(out)["status"]["conditions"]}
        assert conditions.get("Established") == "True", info.crd_name
        assert conditions.get("NamesAccepted") == "True", info.crd_name


def test_samples_apply_and_list(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.kubectl("apply", "-n", namespace, "-k", str(SAMPLES))

    engines = control_plane.kubectl("get", "engines", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(engines) == [
        f"engine.trading.eternal-engine.io/{n}"
        for n in ("core-hodl", "funding", "tactical", "trend")
    ]
    assert control_plane.kubectl("get", "alloc/eternal", "cbp/eternal", "-n", namespace).stdout


def test_engine_columns_show_status(control_plane: ControlPlane, namespace: str) -> None:
    apply(control_plane, namespace, sample("engine-trend.yaml"))
    status = {
        "status": {
            "phase": "Running",
            "runtime": {"equity": "12345.67", "drawdown": "0.0412"},
            "allocation": {"targetWeight": "0.20"},
            "governance": {"level": 2, "sizeMultiplier": 0.5},
        }
    }
    control_plane.kubectl(
        "patch", "engine", "trend", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps(status),
    )  # fmt: skip

    header, row = control_plane.kubectl("get", "engines", "-n", namespace).stdout.splitlines()
    assert header.split() == [
        "NAME", "STRATEGY", "VENUE", "PHASE", "EQUITY", "ALLOC", "DRAWDOWN", "LEVEL", "AGE",
    ]  # fmt: skip
    assert row.split()[:8] == [
        "trend", "trend", "simulator", "Running", "12345.67", "0.20", "0.0412", "2",
    ]  # fmt: skip


def test_policy_columns_show_status(control_plane: ControlPlane, namespace: str) -> None:
    apply(control_plane, namespace, sample("circuitbreakerpolicy.yaml"))
    status = {
        "status": {
            "equity": "90000",
            "highWaterMark": "1.25",
            "drawdown": "0.21",
            "level": 3,
            "halted": False,
        }
    }
    control_plane.kubectl(
        "patch", "cbp", "eternal", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps(status),
    )  # fmt: skip

    header, row = control_plane.kubectl("get", "cbp", "-n", namespace).stdout.splitlines()
    assert header.split() == ["NAME", "EQUITY", "HWM", "DRAWDOWN", "LEVEL", "HALTED", "AGE"]
    assert row.split()[:6] == ["eternal", "90000", "1.25", "0.21", "3", "false"]


def test_server_applies_defaults(control_plane: ControlPlane, namespace: str) -> None:
    minimal = {
        "apiVersion": "trading.eternal-engine.io/v1alpha1",
        "kind": "Engine",
        "metadata": {"name": "minimal"},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": "sub001"},
    }
    apply(control_plane, namespace, minimal)
    policy = {
        "apiVersion": "trading.eternal-engine.io/v1alpha1",
        "kind": "CircuitBreakerPolicy",
        "metadata": {"name": "defaults"},
        "spec": {},
    }
    apply(control_plane, namespace, policy)

    engine = json.loads(
        control_plane.kubectl("get", "engine", "minimal", "-n", namespace, "-o", "json").stdout
    )
    assert engine["spec"]["venue"] == "simulator"
    assert engine["spec"]["suspend"] is False
    assert engine["spec"]["onDelete"] == "cancelOrders"
    assert engine["spec"]["risk"]["maxLeverage"] == 2
    assert engine["spec"]["risk"]["dailyLossLimit"] == 0.02
    cbp = json.loads(
        control_plane.kubectl("get", "cbp", "defaults", "-n", namespace, "-o", "json").stdout
    )
    levels = [
        (lvl["level"], lvl["drawdown"], lvl["sizeMultiplier"]) for lvl in cbp["spec"]["levels"]
    ]
    assert levels == [(1, 0.1, 0.75), (2, 0.15, 0.5), (3, 0.2, 0), (4, 0.25, 0)]
    assert cbp["spec"]["levels"][3]["halt"] is True
    assert cbp["spec"]["emergencyHalt"] is False


def test_status_is_a_subresource(control_plane: ControlPlane, namespace: str) -> None:
    apply(control_plane, namespace, sample("engine-trend.yaml"))

    def get() -> dict[str, object]:
        out = control_plane.kubectl("get", "engine", "trend", "-n", namespace, "-o", "json").stdout
        return dict(json.loads(out))

    before = get()
    # Status written through the main resource is dropped; spec written via /status is ignored.
    control_plane.kubectl(
        "patch", "engine", "trend", "-n", namespace, "--type=merge",
        "-p", '{"status": {"phase": "Running"}}',
    )  # fmt: skip
    control_plane.kubectl(
        "patch", "engine", "trend", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", '{"spec": {"suspend": true}, "status": {"phase": "Halted"}}',
    )  # fmt: skip

    after = get()
    assert after["spec"] == before["spec"]
    assert after["status"]["phase"] == "Halted"  # type: ignore[index]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]  # type: ignore[index]


def test_explain_reads_well(control_plane: ControlPlane) -> None:
    out = control_plane.kubectl("explain", "engine.spec.risk").stdout
    assert "Hard risk limits checked before every order" in out
    for field in ("maxLeverage", "dailyLossLimit", "weeklyLossLimit", "maxConcurrentPositions"):
        assert field in out
    out = control_plane.kubectl("explain", "cbp.spec.emergencyHalt").stdout
    assert "Latched" in out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_malformed_object_is_refused_naming_the_field(
    control_plane: ControlPlane, namespace: str, case: Malformed
) -> None:
    result = control_plane.kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(case.manifest), check=False
    )

    assert result.returncode != 0, f"{case.id} was accepted"
    assert case.field in result.stderr, result.stderr
    assert case.words in result.stderr, result.stderr
    name = case.manifest["metadata"]["name"]
    kind = case.manifest["kind"].lower()
    gone = control_plane.kubectl("get", kind, name, "-n", namespace, check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


@pytest.mark.parametrize("case", BOUNDARIES, ids=lambda c: c.id)
def test_a_boundary_object_is_decided_as_the_models_decide(
    control_plane: ControlPlane, namespace: str, case: Boundary
) -> None:
    # tests/unit/api/test_models.py checks the models give the same verdicts.
    result = control_plane.kubectl(
        "apply", "-n", namespace, "-f", "-", input=to_json(case.manifest), check=False
    )

    assert (result.returncode == 0) == case.accepted, result.stderr or result.stdout
