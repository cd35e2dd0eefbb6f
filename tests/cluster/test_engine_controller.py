"""The Engine controller against a real kube-apiserver, with the operator and the paper venue
running as real processes. Where a test needs a live runtime, it plays the runtime's side of the
status contract (heartbeat and shutdown confirmation), exactly as engine_runtime will."""

from __future__ import annotations

import base64
import itertools
import json
import re
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
from support.runtime import RuntimeProcess, admin, pod_runtime
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
        lease_name="eng-tests", error_backoff_seconds="1", error_backoff_max_seconds="30",
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
    apply(control_plane, ns, engine_manifest("prov", subaccount=f"prov{secrets.token_hex(3)}1"))

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


def test_a_shutdown_is_announced_once_when_a_timer_pass_queues_behind_it(
    control_plane: ControlPlane, ns: str, paper_venue: Venue, venue_sub1: Any
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("slow", credentials=SUB1_CREDS))
    wait_for(lambda: replicas(control_plane, ns, "slow") == 1, 20, "one replica")
    order_id = resting_order(venue_sub1)
    # Each venue request now takes 1.5 s: the operator's cancel pass outlasts the 2 s resync, so
    # the timer's pass waits behind it with the Engine as it was before the request was written.
    admin(paper_venue.url, "faults", {"latency_ms": 1500})
    try:
        control_plane.kubectl(
            "patch", "engine", "slow", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
        )
        wait_for(lambda: replicas(control_plane, ns, "slow") == 0, 40, "scaled to zero")
        first = requested_at(control_plane, ns, "slow")
        # The queued pass saw no request, so it made (and carried out) its own: the race ran.
        wait_for(lambda: requested_at(control_plane, ns, "slow") != first, 30, "the stale pass")
    finally:
        admin(paper_venue.url, "faults/clear", {})
    assert order_id not in open_orders(venue_sub1)
    for reason in ("SuspendRequested", "OperatorCancelling", "OperatorCancelled", "PhaseSuspended"):
        assert reasons(control_plane, ns, "slow").count(reason) == 1, reason


def requested_at(plane: ControlPlane, ns: str, name: str) -> str | None:
    engine = get(plane, "engine", name, ns) or {}
    return (engine.get("status", {}).get("shutdown") or {}).get("requestedAt")


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
    assert any("sent Sell 0.010 BTCUSDT" in m and m.endswith("; flat") for m in messages), messages
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

    sub1_secret(control_plane, ns, name="missing", apiKey=processes.SUB1_KEY, apiSecret="\t")
    engine_when(
        control_plane, ns, "nokeys",
        lambda e: condition(e, "CredentialsValid").get("reason") == "SecretKeyInvalid",
        "SecretKeyInvalid",
    )  # fmt: skip
    message = condition(get(control_plane, "engine", "nokeys", ns), "CredentialsValid")["message"]
    assert "'apiSecret' is empty or not a printable API key" in message
    assert all(e["type"] == "Warning" for e in events(control_plane, ns, "nokeys")
               if e["reason"] == "PhaseFailed")  # fmt: skip

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


# -- failures: explained, retried with backoff, and still suspendable and deletable ---------------


def failed_attempts(plane: ControlPlane, ns: str, name: str) -> list[tuple[datetime, int]]:
    """(when, announced delay) of each ReconcileFailed Event, oldest first."""
    out = []
    for e in events(plane, ns, name):
        found = re.search(r"next attempt in (\d+)s", e["message"])
        if e["reason"] == "ReconcileFailed" and found:
            out.append((datetime.fromisoformat(e["eventTime"]), int(found.group(1))))
    return sorted(out)


def test_an_object_the_server_refuses_is_a_condition_an_event_and_a_backoff(
    control_plane: ControlPlane, ns: str, operator: Operator
) -> None:
    # A Deployment of the runtime's name already exists, with another selector: the server
    # refuses to change it (the selector is immutable), whatever the operator applies.
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "clash-runtime"},
        "spec": {
            "replicas": 0, "selector": {"matchLabels": {"app": "someone-else"}},
            "template": {"metadata": {"labels": {"app": "someone-else"}},
                         "spec": {"containers": [{"name": "c", "image": "example/other:1"}]}},
        },
    })  # fmt: skip
    logged = len(operator.text())

    apply(control_plane, ns, engine_manifest("clash", credentials=SUB1_CREDS))

    engine = engine_when(
        control_plane, ns, "clash",
        lambda e: condition(e, "Ready").get("reason") == "ObjectRefused", "ObjectRefused",
    )  # fmt: skip
    assert engine["status"]["phase"] == "Failed"
    ready = condition(engine, "Ready")
    assert ready["status"] == "False"
    assert f"the API server refused Deployment {ns}/clash-runtime" in ready["message"]
    assert "field is immutable" in ready["message"]
    attempts = wait_for(
        lambda: (a := failed_attempts(control_plane, ns, "clash")) and len(a) >= 4 and a, 40,
        "four failed attempts",
    )  # fmt: skip
    assert [delay for _, delay in attempts[:4]] == [1, 2, 4, 8]
    for (at, delay), (then, _) in itertools.pairwise(attempts[:4]):
        # Each attempt waits out the delay the last one announced: not every resync (2 s).
        assert (then - at).total_seconds() >= delay * 0.9, attempts
    failed = [e for e in events(control_plane, ns, "clash") if e["reason"] == "ReconcileFailed"]
    assert all(e["type"] == "Warning" for e in failed)
    assert "PhaseFailed" in reasons(control_plane, ns, "clash")
    assert "Traceback" not in operator.text()[logged:]

    control_plane.kubectl("delete", "deployment", "clash-runtime", "-n", ns)

    healed = engine_when(control_plane, ns, "clash", lambda e: phase(e) == "Starting", "healed", 40)
    assert condition(healed, "Ready")["reason"] == "RuntimeStarting"
    assert replicas(control_plane, ns, "clash") == 1


def start_pod_runtime(
    plane: ControlPlane, ns: str, name: str, directory: Path, **keys: str
) -> RuntimeProcess:
    """The Engine's runtime, as its pod would run it (no kubelet here): the rendered config,
    the Secret's keys. It fails before it needs PostgreSQL or Redis: none is given."""
    wait_for(lambda: replicas(plane, ns, name) == 1, 20, "the runtime Deployment")
    config = get(plane, "configmap", f"{name}-config", ns)["data"]["engine.json"]  # type: ignore[index]
    runtime = pod_runtime(
        directory, engine=name, namespace=ns, config=config, kubeconfig=plane.kubeconfig,
        database_url="postgresql://127.0.0.1:1/unused", redis_url="redis://127.0.0.1:1/0",
        api_key=keys["apiKey"], api_secret=keys["apiSecret"],
    )  # fmt: skip
    runtime.start()
    assert runtime.process is not None
    assert runtime.process.wait(timeout=60) == 1, runtime.text()
    return runtime


def test_a_runtime_refused_by_the_venue_is_failed_then_suspended_and_deleted(
    control_plane: ControlPlane, ns: str, tmp_path: Path, operator: Operator
) -> None:
    ghost = {"apiKey": "GHOSTKEY0001", "apiSecret": "GHOSTSECRET000000000000000000001"}
    sub1_secret(control_plane, ns, name="ghost-keys", **ghost)
    apply(control_plane, ns, engine_manifest("ghost", credentials={"secretName": "ghost-keys"}))

    runtime = start_pod_runtime(control_plane, ns, "ghost", tmp_path / "ghost", **ghost)

    assert "cannot start: the venue refuses the API key: 10003" in runtime.text()
    assert "Traceback" not in runtime.text()
    engine = engine_when(control_plane, ns, "ghost", lambda e: phase(e) == "Failed", "Failed")
    start_error = engine["status"]["runtime"]["startError"]
    assert start_error["message"] == "the venue refuses the API key: 10003: API key is invalid."
    ready = condition(engine, "Ready")
    assert ready["reason"] == "RuntimeFailed"
    assert ready["message"] == f"the runtime cannot start: {start_error['message']}"
    failed = [e for e in events(control_plane, ns, "ghost") if e["reason"] == "PhaseFailed"]
    assert failed
    assert failed[0]["type"] == "Warning"
    assert "refuses the API key" in failed[0]["message"]
    for where in (json.dumps(engine), json.dumps(events(control_plane, ns, "ghost")),
                  runtime.text(), operator.text()):  # fmt: skip
        assert ghost["apiSecret"] not in where

    control_plane.kubectl(
        "patch", "engine", "ghost", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    wait_for(lambda: replicas(control_plane, ns, "ghost") == 0, 20, "scaled to zero")
    engine = engine_when(control_plane, ns, "ghost", lambda e: phase(e) == "Suspended", "Suspended")
    assert engine["status"]["shutdown"]["completedBy"] == "operator"
    said = {e["reason"]: e for e in events(control_plane, ns, "ghost")}
    assert "nothing was placed with it" in said["KeyUnknownToVenue"]["message"]
    assert said["KeyUnknownToVenue"]["type"] == "Warning"
    # Posted once each, though a timer pass and a change pass both saw the request missing.
    for reason in ("SuspendRequested", "OperatorCancelling", "KeyUnknownToVenue"):
        assert reasons(control_plane, ns, "ghost").count(reason) == 1, reason

    control_plane.kubectl("delete", "engine", "ghost", "-n", ns, "--wait=false")
    wait_for(lambda: get(control_plane, "engine", "ghost", ns) is None, 30, "the Engine gone")


def test_a_runtime_whose_symbol_is_not_listed_is_failed_and_deletable(
    control_plane: ControlPlane, ns: str, tmp_path: Path, venue_sub1: Any
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("nosym", symbols=["NOPEUSDT"], credentials=SUB1_CREDS))
    order_id = resting_order(venue_sub1)  # something for the operator to cancel on delete

    runtime = start_pod_runtime(
        control_plane, ns, "nosym", tmp_path / "nosym", **processes.SUB1_KEYS
    )

    assert "cannot start: the venue does not list NOPEUSDT (linear)" in runtime.text()
    engine = engine_when(control_plane, ns, "nosym", lambda e: phase(e) == "Failed", "Failed")
    assert condition(engine, "Ready")["reason"] == "RuntimeFailed"
    assert "does not list NOPEUSDT" in condition(engine, "Ready")["message"]

    control_plane.kubectl("delete", "engine", "nosym", "-n", ns, "--wait=false")

    wait_for(lambda: get(control_plane, "engine", "nosym", ns) is None, 30, "the Engine gone")
    assert order_id not in open_orders(venue_sub1)
    assert "OperatorCancelled" in reasons(control_plane, ns, "nosym")


def test_an_engine_that_cannot_run_still_suspends_and_deletes(
    control_plane: ControlPlane, ns: str
) -> None:
    # Its Secret goes after the runtime Deployment was made: no keys, and no live runtime.
    sub1_secret(control_plane, ns, name="brief-keys")
    apply(control_plane, ns, engine_manifest("orphan", credentials={"secretName": "brief-keys"}))
    wait_for(lambda: replicas(control_plane, ns, "orphan") == 1, 20, "one replica")
    control_plane.kubectl("delete", "secret", "brief-keys", "-n", ns)
    engine_when(control_plane, ns, "orphan", lambda e: phase(e) == "Failed", "Failed")

    control_plane.kubectl(
        "patch", "engine", "orphan", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )

    wait_for(lambda: replicas(control_plane, ns, "orphan") == 0, 20, "scaled to zero anyway")
    wait_for(lambda: "CancelFailed" in reasons(control_plane, ns, "orphan"), 20, "CancelFailed")
    assert phase(get(control_plane, "engine", "orphan", ns)) == "Failed"  # type: ignore[arg-type]
    sub1_secret(control_plane, ns, name="brief-keys")  # with its keys back, it can cancel
    engine_when(control_plane, ns, "orphan", lambda e: phase(e) == "Suspended", "Suspended", 30)
    assert "OperatorCancelled" in reasons(control_plane, ns, "orphan")

    # Never able to run (no Secret from the start, so never a Deployment): deletable at once.
    apply(control_plane, ns, engine_manifest("never", credentials={"secretName": "nowhere"}))
    engine_when(control_plane, ns, "never", lambda e: phase(e) == "Failed", "Failed")
    control_plane.kubectl("delete", "engine", "never", "-n", ns, "--wait=false")
    wait_for(lambda: get(control_plane, "engine", "never", ns) is None, 30, "the Engine gone")
    assert "NothingToCancel" in reasons(control_plane, ns, "never")
