"""Two operator replicas: exactly one acts; when it dies, the other takes over."""

from __future__ import annotations

import json
import secrets
import signal
from pathlib import Path

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from support import processes
from support.processes import Venue
from support.waiting import wait_for

pytestmark = pytest.mark.cluster


def deployment_uid(plane: ControlPlane, ns: str) -> str | None:
    got = plane.kubectl("get", "deployment", "solo-runtime", "-n", ns, "-o", "json", check=False)
    return json.loads(got.stdout)["metadata"]["uid"] if got.returncode == 0 else None


def test_two_replicas_never_both_act(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path: Path
) -> None:
    ns = f"lead-{secrets.token_hex(4)}"
    control_plane.kubectl("create", "namespace", ns)
    lease = f"lease-{ns}"
    replicas = [
        processes.start_operator(
            control_plane.kubeconfig,
            paper_venue,
            tmp_path / f"{name}.log",
            name=name,
            namespaces="lead-*",
            lease_name=lease,
        )
        for name in ("replica-a", "replica-b")
    ]
    try:
        leader = wait_for(
            lambda: next((r for r in replicas if "leads via Lease" in r.text()), None),
            30, "a leader",
        )  # fmt: skip
        follower = next(r for r in replicas if r is not leader)
        wait_for(lambda: "waits" in follower.text(), 15, "the follower to wait")

        engine = {
            "apiVersion": "trading.eternal-engine.io/v1alpha1",
            "kind": "Engine",
            "metadata": {"name": "solo"},
            "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": "solo0001"},
        }
        control_plane.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(engine))
        first = wait_for(lambda: deployment_uid(control_plane, ns), 30, "the leader's Deployment")

        holder = json.loads(
            control_plane.kubectl("get", "lease", lease, "-n", "default", "-o", "json").stdout
        )["spec"]["holderIdentity"]
        assert holder == leader.env["EE_OPERATOR_POD_NAME"]
        assert "solo" in leader.text()
        assert "solo" not in follower.text()  # the follower never touched the Engine
        assert "kopf" not in follower.text()  # nor started its handlers at all

        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=10)
        wait_for(lambda: "leads via Lease" in follower.text(), 30, "the follower to take over")
        control_plane.kubectl("delete", "deployment", "solo-runtime", "-n", ns)
        second = wait_for(
            lambda: (uid := deployment_uid(control_plane, ns)) and uid != first and uid,
            30, "the new leader to repair the Deployment",
        )  # fmt: skip
        assert second != first
    finally:
        for replica in replicas:
            replica.stop()
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)
