"""The whole reconcile compares an Engine's objects as the operator's watch saw them, against a
real API server with the operator resyncing every second: the resyncs read none of the runtime's
ConfigMap, ServiceAccount, Role, RoleBinding or Service (only its Deployment, the subaccount's
claim and the keys), and still put right what someone else changed or deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from eternal_operator.controllers.engine import render
from eternal_operator.devtools.controlplane import ControlPlane
from support.governance import engine, keys, metric, own_namespace, start
from support.kube import apply, get
from support.processes import Operator, Venue
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

PREFIX = "watched"
CACHED = ("configmaps", "serviceaccounts", "roles", "rolebindings", "services")


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = Path(tmp_path_factory.mktemp(PREFIX)) / "op.log"
    op = start(control_plane, paper_venue, log, prefix=PREFIX, resync_seconds="1")
    yield op
    op.stop()


def calls(op: Operator, verb: str, resource: str) -> float:
    labels = (f'verb="{verb}"', f'resource="{resource}"')
    return metric(op, "eternal_operator_api_calls_total", *labels)


def reads(op: Operator, resource: str) -> float:
    return calls(op, "GET", resource)


def applies(op: Operator) -> dict[str, float]:
    return {r: calls(op, "PATCH", r) for r in CACHED}


def passes(op: Operator) -> float:
    return metric(op, "eternal_operator_reconciles_total", 'kind="Engine"')


def after_passes(op: Operator, count: int) -> None:
    start_at = passes(op)
    wait_for(lambda: passes(op) >= start_at + count, 30, f"{count} Engine passes")


def test_resyncs_read_only_the_deployment_and_put_right_what_changed(
    control_plane: ControlPlane, operator: Operator
) -> None:
    with own_namespace(control_plane, PREFIX) as ns:
        keys(control_plane, ns)
        apply(control_plane, ns, engine("w"))
        names = render.RuntimeNames.of("w")
        wait_for(lambda: get(control_plane, "deployment", names.deployment, ns), 30, "Deployment")
        wait_for(lambda: get(control_plane, "role", names.role, ns), 30, "Role")
        after_passes(operator, 2)  # settled: what it applied is what the watch has seen

        before = {r: reads(operator, r) for r in (*CACHED, "deployments")}
        applied = applies(operator)
        after_passes(operator, 3)
        assert {r: reads(operator, r) - before[r] for r in CACHED} == dict.fromkeys(CACHED, 0)
        assert reads(operator, "deployments") >= before["deployments"] + 3
        assert applies(operator) == applied  # the watch saw each as it is: nothing applied

        config = get(control_plane, "configmap", names.config_map, ns) or {}
        wanted = config["data"]
        drifted = json.dumps({"data": {k: "changed by hand" for k in wanted}})
        control_plane.kubectl("patch", "configmap", names.config_map, "-n", ns, "--type=merge",
                              "-p", drifted)  # fmt: skip
        control_plane.kubectl("delete", "role", names.role, "-n", ns)
        wait_for(lambda: (get(control_plane, "configmap", names.config_map, ns) or {}).get("data")
                 == wanted, 30, "the ConfigMap put back")  # fmt: skip
        wait_for(lambda: get(control_plane, "role", names.role, ns), 30, "the Role recreated")
