"""The Engine controller against a real kube-apiserver, with the operator and the paper venue
running as real processes: what an Engine becomes, drift and change, and what it refuses."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.request

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from support import processes
from support.engines import (
    SUB1_CREDS,
    condition,
    engine_manifest,
    engine_when,
    events,
    phase,
    reasons,
    replicas,
    sub1_secret,
)
from support.kube import apply, get, managed_fields
from support.processes import Operator, Venue
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

PREFIX = "eng"  # the namespaces and the operator of this module (conftest)


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


def test_an_engine_keeps_its_managed_fields_by_default(
    control_plane: ControlPlane, ns: str
) -> None:
    """The reset is opt-in (EE_OPERATOR_RESET_ENGINE_MANAGED_FIELDS; it is shown with the
    setting on in test_engine_managed_fields.py)."""
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("owned", credentials=SUB1_CREDS))
    engine_when(control_plane, ns, "owned", phase, "a phase")  # the operator's status write
    managers = {m["manager"] for m in managed_fields(control_plane, ns, "owned")}
    assert "kubectl-client-side-apply" in managers


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
