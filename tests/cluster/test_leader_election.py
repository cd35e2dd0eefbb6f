"""Two operator replicas: exactly one acts; when it dies, the other takes over. The standby
answers its health endpoints all along, and a holder whose clock is skewed (its renewTime far
in the past or the future) is judged by when the standby saw the Lease change, not by the
renewTime against the standby's clock."""

from __future__ import annotations

import json
import secrets
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from support import processes
from support.processes import Operator, Venue
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

LEASE_SECONDS = 4  # what support.processes gives the operators


def probe(replica: Operator, path: str) -> tuple[int, dict[str, object]] | None:
    """GET a health endpoint of a replica: (status, JSON body), None if nothing answers."""
    url = f"http://127.0.0.1:{replica.env['EE_OPERATOR_HEALTH_PORT']}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return None


def status(replica: Operator, path: str) -> int | None:
    got = probe(replica, path)
    return got[0] if got else None


def lease_spec(plane: ControlPlane, name: str) -> dict[str, object]:
    got = plane.kubectl("get", "lease", name, "-n", "default", "-o", "json")
    spec: dict[str, object] = json.loads(got.stdout)["spec"]
    return spec


def write_ghost_lease(plane: ControlPlane, name: str, renew: str) -> None:
    """A holder on a node whose clock is far off: it renews, but its renewTime says `renew`."""
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "holderIdentity": "ghost",
            "leaseDurationSeconds": LEASE_SECONDS,
            "acquireTime": renew,
            "renewTime": renew,
        },
    }
    plane.kubectl("apply", "-f", "-", input=json.dumps(lease))


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

        # The standby answers its probes although kopf (and kopf's own liveness) never started.
        assert status(follower, "/healthz") == 200
        ready = wait_for(  # a standby that lost the race to create the Lease learns the
            lambda: (got := probe(follower, "/readyz"))  # holder at its next look
            and got[0] == 200 and got[1].get("holder") and got,
            10, "ready, with the holder known",
        )  # fmt: skip
        assert ready[1]["role"] == "standby"
        assert ready[1]["holder"] == leader.env["EE_OPERATOR_POD_NAME"]
        assert status(follower, "/leader") == 503
        assert status(leader, "/leader") == 200

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


def test_a_skewed_renew_time_neither_hastens_nor_blocks_a_takeover(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path: Path
) -> None:
    """A holder whose renewTime is 25 years in the past keeps its Lease while it keeps renewing
    (no premature takeover); one whose renewTime is 73 years ahead loses it once it stops."""
    lease = f"lease-skew-{secrets.token_hex(4)}"
    write_ghost_lease(control_plane, lease, "2001-01-01T00:00:00.000000Z")
    replica = processes.start_operator(
        control_plane.kubeconfig,
        paper_venue,
        tmp_path / "standby.log",
        name="standby",
        namespaces="skew-none",
        lease_name=lease,
    )
    try:
        wait_for(lambda: "waits" in replica.text(), 30, "the replica to wait")
        # The ghost renews every second for three Lease durations; its renewTime stays 25
        # years old (its own clock moves on from there). A judge by renewTime would take over
        # at once.
        until = time.monotonic() + 3 * LEASE_SECONDS
        second = 0
        while time.monotonic() < until:
            second += 1
            renew = f"2001-01-01T00:00:{second % 60:02d}.000000Z"
            control_plane.kubectl(
                "patch", "lease", lease, "-n", "default", "--type=merge",
                "-p", json.dumps({"spec": {"renewTime": renew}}),
            )  # fmt: skip
            assert lease_spec(control_plane, lease)["holderIdentity"] == "ghost"
            time.sleep(1)
        assert "leads via Lease" not in replica.text()
        assert status(replica, "/leader") == 503
        # The ghost stops renewing: a Lease duration after the last change, the replica leads.
        stopped = time.monotonic()
        wait_for(lambda: "leads via Lease" in replica.text(), 30, "the takeover")
        assert time.monotonic() - stopped >= LEASE_SECONDS - 1.5  # not before it expired
        assert lease_spec(control_plane, lease)["holderIdentity"] == "standby"
        wait_for(lambda: status(replica, "/leader") == 200, 10, "/leader to say it leads")

        # Now a holder whose clock is 73 years ahead, and which has died: judged by its
        # renewTime it would hold the Lease until 2099.
        replica.process.send_signal(signal.SIGKILL)
        replica.process.wait(timeout=10)
        control_plane.kubectl("delete", "lease", lease, "-n", "default")
        write_ghost_lease(control_plane, lease, "2099-01-01T00:00:00.000000Z")
        again = processes.start_operator(
            control_plane.kubeconfig,
            paper_venue,
            tmp_path / "again.log",
            name="again",
            namespaces="skew-none",
            lease_name=lease,
        )
        try:
            wait_for(lambda: "leads via Lease" in again.text(), 30, "the takeover from 2099")
            assert lease_spec(control_plane, lease)["holderIdentity"] == "again"
        finally:
            again.stop()
    finally:
        replica.stop()
        control_plane.kubectl("delete", "lease", lease, "-n", "default", check=False)
