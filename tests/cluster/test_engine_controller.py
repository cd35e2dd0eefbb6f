"""The Engine controller against a real kube-apiserver, with the operator and the paper venue
running as real processes. Where a test needs a live runtime, it plays the runtime's side of the
status contract (heartbeat and shutdown confirmation), exactly as engine_runtime will."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine_runtime.venue.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from support import kube, processes
from support.kube import apply, get, secret
from support.processes import Operator, Venue
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

PREFIX = "eng"


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = Path(tmp_path_factory.mktemp("operator")) / "operator.log"
    op = processes.start_operator(
        control_plane.kubeconfig, paper_venue, log, name="op-main", namespaces=f"{PREFIX}-*",
        lease_name="eng-tests",
    )  # fmt: skip
    wait_for(lambda: "leads via Lease" in op.text(), 30, "the operator to lead")
    yield op
    op.stop()


@pytest.fixture
def ns(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    name = f"{PREFIX}-{secrets.token_hex(4)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def engine_manifest(name: str, **spec: Any) -> dict[str, Any]:
    base = {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": processes.fresh_uid()}
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1",
        "kind": "Engine",
        "metadata": {"name": name},
        "spec": {**base, **spec},
    }


def sub1_secret(plane: ControlPlane, ns: str, name: str = "sub1-keys", **keys: str) -> None:
    secret(
        plane, ns, name, keys or {"apiKey": processes.SUB1_KEY, "apiSecret": processes.SUB1_SECRET}
    )


SUB1_CREDS = {"secretName": "sub1-keys"}


def engine_when(
    plane: ControlPlane, ns: str, name: str, test: Any, what: str, timeout: float = 20
) -> dict[str, Any]:
    """Wait until the Engine exists and `test(engine)` holds; return the Engine."""

    def probe() -> dict[str, Any] | None:
        engine = get(plane, "engine", name, ns)
        return engine if engine is not None and test(engine) else None

    return wait_for(probe, timeout, what)


def phase(engine: dict[str, Any]) -> str | None:
    return engine.get("status", {}).get("phase")


def condition(engine: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for c in (engine or {}).get("status", {}).get("conditions", []):
        if c["type"] == kind:
            return dict(c)
    return {}


def events(plane: ControlPlane, ns: str, name: str) -> list[dict[str, Any]]:
    out = plane.kubectl(
        "get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}", "-o", "json"
    ).stdout
    return list(json.loads(out)["items"])


def reasons(plane: ControlPlane, ns: str, name: str) -> list[str]:
    return [e["reason"] for e in events(plane, ns, name)]


def replicas(plane: ControlPlane, ns: str, engine: str) -> int | None:
    dep = get(plane, "deployment", f"{engine}-runtime", ns)
    return None if dep is None else int(dep["spec"]["replicas"])


@pytest.fixture
def venue_sub1(paper_venue: Venue) -> Iterator[Any]:
    session = http_session(paper_venue.url, processes.SUB1_KEY, processes.SUB1_SECRET)
    yield session
    session.cancel_all_orders(category="spot")
    session.cancel_all_orders(category="linear", settleCoin="USDT")


def resting_order(session: Any) -> str:
    placed = session.place_order(
        category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001",
        price="20000", timeInForce="GTC",
    )  # fmt: skip
    order_id = str(placed["result"]["orderId"])
    assert open_orders(session) == [order_id]
    return order_id


def open_orders(session: Any) -> list[str]:
    result = session.get_open_orders(category="spot", symbol="BTCUSDT")["result"]["list"]
    return [str(o["orderId"]) for o in result]


class FakeRuntimeHeartbeat(kube.StandInRuntime):
    """Plays the runtime's side of the contract: a fresh heartbeat every half second."""

    def __init__(self, plane: ControlPlane, ns: str, name: str) -> None:
        super().__init__(plane, ns)
        self.name = name

    def report(self, **fields: Any) -> None:
        runtime = {"heartbeat": _now(), "venueConnected": True, **fields}
        kube.patch_runtime(self.plane, self.ns, self.name, runtime)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- creation -------------------------------------------------------------------------------


def test_engine_becomes_owned_objects_and_a_runtime_deployment(
    control_plane: ControlPlane, ns: str
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("alpha", credentials=SUB1_CREDS))

    dep = wait_for(lambda: get(control_plane, "deployment", "alpha-runtime", ns), 20, "deployment")
    uid = get(control_plane, "engine", "alpha", ns)["metadata"]["uid"]  # type: ignore[index]
    for kind, name in [
        ("configmap", "alpha-config"), ("serviceaccount", "alpha-runtime"),
        ("role", "alpha-runtime"), ("rolebinding", "alpha-runtime"),
        ("service", "alpha-metrics"), ("deployment", "alpha-runtime"),
    ]:  # fmt: skip
        obj = get(control_plane, kind, name, ns)
        assert obj is not None, kind
        (owner,) = obj["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Engine", "alpha", uid), kind

    spec = dep["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"
    assert container["image"] == "ghcr.io/eternal-engine/eternal-engine:0.1.0"
    assert env["BYBIT_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "sub1-keys",
        "key": "apiKey",
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False

    engine = engine_when(control_plane, ns, "alpha", lambda e: phase(e) == "Starting", "Starting")
    assert engine["status"]["observedGeneration"] == engine["metadata"]["generation"]
    assert condition(engine, "Ready")["reason"] == "RuntimeStarting"
    assert condition(engine, "CredentialsValid")["status"] == "True"
    assert "PhaseStarting" in reasons(control_plane, ns, "alpha")


def test_simulator_engine_without_credentials_gets_provisioned_keys(
    control_plane: ControlPlane, ns: str, operator: Operator, paper_venue: Venue
) -> None:
    apply(control_plane, ns, engine_manifest("prov", subaccount=f"prov{secrets.token_hex(3)}"))

    secret = wait_for(
        lambda: get(control_plane, "secret", "prov-venue-credentials", ns), 20, "provisioned keys"
    )
    key = base64.b64decode(secret["data"]["apiKey"]).decode()
    secret_value = base64.b64decode(secret["data"]["apiSecret"]).decode()
    assert secret["metadata"]["ownerReferences"][0]["name"] == "prov"
    wallet = http_session(paper_venue.url, key, secret_value).get_wallet_balance(
        accountType="UNIFIED"
    )
    assert wallet["retCode"] == 0
    wait_for(lambda: get(control_plane, "deployment", "prov-runtime", ns), 20, "deployment")
    # The key reaches the pod by reference only: never in another object, an Event or a log.
    for kind, name in [("deployment", "prov-runtime"), ("configmap", "prov-config"),
                       ("engine", "prov")]:  # fmt: skip
        assert secret_value not in json.dumps(get(control_plane, kind, name, ns))
    assert secret_value not in json.dumps(events(control_plane, ns, "prov"))
    assert secret_value not in operator.text()
    assert "CredentialsProvisioned" in reasons(control_plane, ns, "prov")


# -- drift, change and no change --------------------------------------------------------------


def test_drift_is_repaired_within_the_resync_period(control_plane: ControlPlane, ns: str) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("drift", credentials=SUB1_CREDS))
    first = wait_for(lambda: get(control_plane, "deployment", "drift-runtime", ns), 20, "deploy")

    control_plane.kubectl("delete", "deployment", "drift-runtime", "-n", ns)
    again = wait_for(
        lambda: (d := get(control_plane, "deployment", "drift-runtime", ns))
        and d["metadata"]["uid"] != first["metadata"]["uid"] and d,
        15, "the deleted Deployment back",
    )  # fmt: skip
    assert again["spec"]["replicas"] == 1

    control_plane.kubectl(
        "set", "image", "deployment/drift-runtime", "runtime=evil/image:latest", "-n", ns
    )
    wait_for(
        lambda: get(control_plane, "deployment", "drift-runtime", ns)["spec"]["template"]["spec"][  # type: ignore[index]
            "containers"][0]["image"] != "evil/image:latest",
        15, "the image edit reverted",
    )  # fmt: skip

    control_plane.kubectl(
        "patch", "role", "drift-runtime", "-n", ns, "--type=json",
        "-p", '[{"op": "replace", "path": "/rules/0/verbs", "value": ["*"]}]',
    )  # fmt: skip
    wait_for(
        lambda: get(control_plane, "role", "drift-runtime", ns)["rules"][0]["verbs"]  # type: ignore[index]
        == ["get", "list", "watch"],
        15, "the Role edit reverted",
    )  # fmt: skip

    control_plane.kubectl("delete", "configmap", "drift-config", "-n", ns)
    wait_for(lambda: get(control_plane, "configmap", "drift-config", ns), 15, "ConfigMap back")


def reconcile_count(operator: Operator) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics") as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("eternal_operator_reconciles_total{")
    )


def test_no_change_touches_nothing_and_a_spec_change_rolls(
    control_plane: ControlPlane, ns: str, operator: Operator
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("steady", credentials=SUB1_CREDS))
    wait_for(lambda: get(control_plane, "deployment", "steady-runtime", ns), 20, "deployment")
    engine_when(control_plane, ns, "steady", phase, "a phase")

    def versions() -> dict[str, str]:
        kinds = ["engine/steady", "deployment/steady-runtime", "configmap/steady-config",
                 "role/steady-runtime", "service/steady-metrics"]  # fmt: skip
        return {k: get(control_plane, *k.split("/"), ns)["metadata"]["resourceVersion"]  # type: ignore[index,misc]
                for k in kinds}  # fmt: skip

    before = versions()
    start = reconcile_count(operator)
    wait_for(lambda: reconcile_count(operator) >= start + 3, 20, "three more reconcile passes")
    assert versions() == before

    old = get(control_plane, "deployment", "steady-runtime", ns)
    old_hash = old["spec"]["template"]["metadata"]["annotations"]  # type: ignore[index]
    control_plane.kubectl(
        "patch", "engine", "steady", "-n", ns, "--type=merge",
        "-p", '{"spec": {"symbols": ["ETHUSDT"], "image": "example/runtime:2"}}',
    )  # fmt: skip
    rolled = wait_for(
        lambda: (d := get(control_plane, "deployment", "steady-runtime", ns))
        and d["spec"]["template"]["spec"]["containers"][0]["image"] == "example/runtime:2" and d,
        15, "the new image",
    )  # fmt: skip
    assert rolled["spec"]["template"]["metadata"]["annotations"] != old_hash
    config = json.loads(get(control_plane, "configmap", "steady-config", ns)["data"]["engine.json"])  # type: ignore[index]
    assert config["symbols"] == ["ETHUSDT"]


# -- suspend ------------------------------------------------------------------------------------


def test_suspend_without_a_runtime_cancels_through_the_venue_then_resume(
    control_plane: ControlPlane, ns: str, venue_sub1: Any
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("sleepy", credentials=SUB1_CREDS))
    wait_for(lambda: replicas(control_plane, ns, "sleepy") == 1, 20, "one replica")
    order_id = resting_order(venue_sub1)

    control_plane.kubectl(
        "patch", "engine", "sleepy", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )

    wait_for(lambda: replicas(control_plane, ns, "sleepy") == 0, 20, "scaled to zero")
    engine = get(control_plane, "engine", "sleepy", ns)
    assert engine["status"]["phase"] == "Suspended"  # type: ignore[index]
    assert engine["status"]["shutdown"]["completedBy"] == "operator"  # type: ignore[index]
    assert order_id not in open_orders(venue_sub1)
    assert "OperatorCancelled" in reasons(control_plane, ns, "sleepy")

    control_plane.kubectl(
        "patch", "engine", "sleepy", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":false}}'
    )
    wait_for(lambda: replicas(control_plane, ns, "sleepy") == 1, 20, "back to one replica")
    wait_for(
        lambda: "shutdown" not in get(control_plane, "engine", "sleepy", ns)["status"],  # type: ignore[index]
        10, "the shutdown request cleared",
    )  # fmt: skip
    assert "Resumed" in reasons(control_plane, ns, "sleepy")


def test_suspend_waits_for_a_live_runtime_to_confirm(control_plane: ControlPlane, ns: str) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("live", credentials=SUB1_CREDS))
    wait_for(lambda: replicas(control_plane, ns, "live") == 1, 20, "one replica")
    with FakeRuntimeHeartbeat(control_plane, ns, "live") as runtime:
        engine_when(control_plane, ns, "live", lambda e: phase(e) == "Running", "Running")
        control_plane.kubectl(
            "patch", "engine", "live", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
        )
        engine = engine_when(
            control_plane, ns, "live", lambda e: "shutdown" in e["status"], "a shutdown request"
        )
        assert condition(engine, "Ready")["reason"] == "Suspending"
        assert replicas(control_plane, ns, "live") == 1

        runtime.report(shutdownDoneAt=_now(), openOrders=0)

        wait_for(lambda: replicas(control_plane, ns, "live") == 0, 15, "scaled to zero")
    engine = get(control_plane, "engine", "live", ns)
    assert engine["status"]["shutdown"]["completedBy"] == "runtime"  # type: ignore[index]
    assert "OperatorCancelled" not in reasons(control_plane, ns, "live")


# -- deletion -------------------------------------------------------------------------------------


def test_delete_without_a_runtime_cancels_and_flattens_through_the_venue(
    control_plane: ControlPlane, ns: str, venue_sub1: Any
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("gone", credentials=SUB1_CREDS, onDelete="flatten"))
    wait_for(lambda: replicas(control_plane, ns, "gone") == 1, 20, "one replica")
    order_id = resting_order(venue_sub1)
    venue_sub1.place_order(
        category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.01"
    )

    control_plane.kubectl("delete", "engine", "gone", "-n", ns, "--wait=false")

    wait_for(lambda: get(control_plane, "engine", "gone", ns) is None, 30, "the Engine gone")
    assert order_id not in open_orders(venue_sub1)
    positions = venue_sub1.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert all(float(p["size"]) == 0 for p in positions)
    messages = [e["message"] for e in events(control_plane, ns, "gone")]
    assert any("closed BTCUSDT Buy" in m for m in messages), messages
    wait_for(lambda: get(control_plane, "deployment", "gone-runtime", ns) is None, 30, "GC")


def test_delete_with_a_live_runtime_waits_for_its_confirmation(
    control_plane: ControlPlane, ns: str
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("bye", credentials=SUB1_CREDS))
    wait_for(lambda: replicas(control_plane, ns, "bye") == 1, 20, "one replica")
    with FakeRuntimeHeartbeat(control_plane, ns, "bye") as runtime:
        engine_when(control_plane, ns, "bye", lambda e: phase(e) == "Running", "Running")
        control_plane.kubectl("delete", "engine", "bye", "-n", ns, "--wait=false")
        engine = engine_when(
            control_plane, ns, "bye", lambda e: "shutdown" in e["status"], "a shutdown request"
        )
        assert engine["status"]["shutdown"]["reason"] == "Delete"
        assert engine["metadata"]["deletionTimestamp"]

        runtime.report(shutdownDoneAt=_now(), openOrders=0)

        wait_for(lambda: get(control_plane, "engine", "bye", ns) is None, 20, "the Engine gone")
    assert "OperatorCancelled" not in reasons(control_plane, ns, "bye")
    assert "RuntimeCancelled" in reasons(control_plane, ns, "bye")


# -- refusals -------------------------------------------------------------------------------------


def test_a_bad_secret_reference_is_a_condition_and_an_event_not_a_crash_loop(
    control_plane: ControlPlane, ns: str
) -> None:
    apply(control_plane, ns, engine_manifest("nokeys", credentials={"secretName": "missing"}))
    engine = engine_when(
        control_plane, ns, "nokeys",
        lambda e: condition(e, "CredentialsValid").get("status") == "False", "no valid keys",
    )  # fmt: skip
    assert engine["status"]["phase"] == "Failed"
    assert condition(engine, "CredentialsValid")["reason"] == "SecretNotFound"
    assert f"Secret {ns}/missing not found" in condition(engine, "CredentialsValid")["message"]
    failed = [e for e in events(control_plane, ns, "nokeys") if e["reason"] == "PhaseFailed"]
    assert failed
    assert f"{ns}/missing" in failed[0]["message"]
    assert get(control_plane, "deployment", "nokeys-runtime", ns) is None

    sub1_secret(control_plane, ns, name="missing", apiKey=processes.SUB1_KEY)
    engine_when(
        control_plane, ns, "nokeys",
        lambda e: condition(e, "CredentialsValid").get("reason") == "SecretKeyMissing",
        "SecretKeyMissing",
    )  # fmt: skip
    message = condition(get(control_plane, "engine", "nokeys", ns), "CredentialsValid")["message"]
    assert "'apiSecret'" in message

    sub1_secret(control_plane, ns, name="missing")
    wait_for(lambda: replicas(control_plane, ns, "nokeys") == 1, 15, "healed: a Deployment")


def test_mainnet_is_refused_unless_the_operator_allows_it(
    control_plane: ControlPlane, ns: str
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("real", venue="mainnet", credentials=SUB1_CREDS))
    engine = engine_when(control_plane, ns, "real", lambda e: phase(e) == "Failed", "Failed")
    assert condition(engine, "Ready")["reason"] == "MainnetNotAllowed"
    assert get(control_plane, "deployment", "real-runtime", ns) is None
    assert get(control_plane, "configmap", "real-config", ns) is None


def test_operator_logs_json_and_serves_metrics(operator: Operator) -> None:
    lines = operator.lines()
    assert lines
    assert all("message" in line or "msg" in line for line in lines)
    assert reconcile_count(operator) > 0
