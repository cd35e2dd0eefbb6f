"""The charts render, lint and refuse bad values (helm only, no cluster)."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
import yaml

from deploy.tooling import (
    ADMISSION,
    CRDS_CHART,
    MONITORING,
    OPERATOR_CHART,
    PRODUCTION_VALUES,
    REPO,
    ToolError,
    helm,
    one,
    pick,
    render,
    render_text,
)
from paper_venue.config import VenueSettings

pytestmark = pytest.mark.unit


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("value_files", [(), (PRODUCTION_VALUES,)], ids=["default", "production"])
def test_operator_chart_lints(value_files: tuple[Path, ...], helm_bin: str) -> None:
    args = [a for f in value_files for a in ("-f", str(f))]
    result = helm("lint", "--strict", str(OPERATOR_CHART), *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_crds_chart_lints(helm_bin: str) -> None:
    result = helm("lint", "--strict", str(CRDS_CHART))
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_deployment_is_non_root_with_leader_election(helm_bin: str) -> None:
    docs = render()
    deploy = one(docs, "Deployment", "eternal-operator")
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's uid
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["command"] == ["python", "-m", "eternal_operator"]
    assert container["image"] == "ghcr.io/eternal-engine/eternal-engine:0.1.0"
    env = env_of(container)
    assert env["EE_OPERATOR_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["EE_OPERATOR_POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    config = one(docs, "ConfigMap", "eternal-operator")["data"]
    assert config["EE_OPERATOR_LEADER_ELECTION"] == "true"
    assert config["EE_OPERATOR_LEASE_NAME"] == "eternal-engine-operator"
    assert config["EE_OPERATOR_NAMESPACES"] == ""
    assert config["EE_OPERATOR_ALLOW_MAINNET"] == "false"
    # runtimes live in other namespaces: the paper venue is named by its cluster DNS name
    assert (
        config["EE_OPERATOR_SIMULATOR_URL"] == "http://eternal-paper-venue.eternal-system.svc:8399"
    )
    assert container["envFrom"] == [{"configMapRef": {"name": "eternal-operator"}}]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    # readiness is the operator's own /readyz, true on the standby too (docs/operator.md)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}


def test_default_render_has_paper_venue_and_no_monitoring_objects(helm_bin: str) -> None:
    docs = render()
    venue = one(docs, "Deployment", "eternal-paper-venue")
    container = venue["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "paper_venue"]
    assert container["args"] == ["--host=0.0.0.0", "--port=8399"]  # its __main__'s flags
    assert container["readinessProbe"]["httpGet"]["path"] == "/v5/market/time"
    # Its admin token is generated into a writable data directory (the root is read-only).
    assert {"name": "PAPER_VENUE_DATA_DIR", "value": "/var/lib/paper-venue"} in container["env"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/var/lib/paper-venue"] == "data"
    assert venue["spec"]["replicas"] == 1
    assert venue["spec"]["strategy"] == {"type": "Recreate"}
    assert one(docs, "Service", "eternal-paper-venue")["spec"]["ports"][0]["port"] == 8399
    assert not pick(docs, "ServiceMonitor")
    assert not pick(docs, "PrometheusRule")
    assert not pick(docs, "PodDisruptionBudget")  # one replica cannot satisfy a PDB


def test_clusterwide_rbac_uses_a_cluster_role(helm_bin: str) -> None:
    docs = render()
    role = one(docs, "ClusterRole", "eternal-operator")
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"engines", "engines/status", "deployments", "secrets", "roles"} <= resources
    discovery = one(docs, "ClusterRole", "eternal-operator-discovery")
    assert {r for rule in discovery["rules"] for r in rule["resources"]} == {
        "customresourcedefinitions",
        "namespaces",
    }
    assert not pick(docs, "Role", "eternal-operator")
    lease = one(docs, "Role", "eternal-operator-leader-election")
    assert lease["metadata"]["namespace"] == "eternal-system"


def test_production_values(helm_bin: str) -> None:
    docs = render(value_files=[PRODUCTION_VALUES])
    deploy = one(docs, "Deployment", "eternal-operator")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert deploy["spec"]["replicas"] == 2
    assert "@sha256:" in container["image"]
    env = env_of(container)
    assert env["EE_OPERATOR_DATABASE_URL"] == {
        "secretKeyRef": {"name": "eternal-postgres", "key": "url"}
    }
    assert env["EE_OPERATOR_REDIS_URL"] == {"secretKeyRef": {"name": "eternal-redis", "key": "url"}}
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    # namespaced: a Role in the fleet namespace, no ClusterRole over the fleet's kinds
    role = one(docs, "Role", "eternal-operator")
    assert role["metadata"]["namespace"] == "eternal-fleet"
    assert [c["metadata"]["name"] for c in pick(docs, "ClusterRole")] == [
        "eternal-operator-discovery"
    ]
    discovery = one(docs, "ClusterRole", "eternal-operator-discovery")
    assert "namespaces" not in {r for rule in discovery["rules"] for r in rule["resources"]}
    assert one(docs, "ConfigMap", "eternal-operator")["data"]["EE_OPERATOR_NAMESPACES"] == (
        "eternal-fleet"
    )
    assert not pick(docs, "Deployment", "eternal-paper-venue")
    assert len(pick(docs, "ServiceMonitor")) == 2
    rule = one(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    dashboards = [
        d for d in pick(docs, "ConfigMap") if "grafana_dashboard" in d["metadata"]["labels"]
    ]
    assert sorted(k for d in dashboards for k in d["data"]) == ["operations.json", "portfolio.json"]
    assert "annotations" not in one(docs, "ServiceAccount")["metadata"]  # no AWS access


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": -1}, "/replicaCount"),
        ({"replicaCount": 0}, "/replicaCount"),
        ({"paperVenue": {"venue": "bogus"}}, "venue"),
        ({"operator": {"logLevel": "TRACE"}}, "/operator/logLevel"),
        ({"operator": {"allowMainnet": "yes"}}, "/operator/allowMainnet"),
        ({"operator": {"watchNamespaces": ["Fleet_1"]}}, "/operator/watchNamespaces"),
        ({"image": {"digest": "sha256:abc"}}, "/image/digest"),
        ({"database": {"existingSecret": "Not A Name"}}, "/database/existingSecret"),
        ({"securityContext": {"allowPrivilegeEscalation": True}}, "/securityContext"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext"),
        ({"metrics": {"serviceMonitor": {"interval": "often"}}}, "/metrics/serviceMonitor"),
        ({"replicas": 2}, "replicas"),
    ],
)
def test_values_schema_refuses(values: dict[str, Any], message: str, helm_bin: str) -> None:
    result = render_text(values=values)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr


def test_several_replicas_need_leader_election(helm_bin: str) -> None:
    with pytest.raises(ToolError, match=r"needs operator\.leaderElection\.enabled"):
        render(values={"replicaCount": 2, "operator": {"leaderElection": {"enabled": False}}})


def test_crds_chart_files_are_the_generated_crds() -> None:
    generated = sorted((REPO / "crds").glob("*.yaml"))
    copies = sorted((CRDS_CHART / "files").glob("*.yaml"))
    assert [p.name for p in copies] == [p.name for p in generated], "run `make charts-sync`"
    for source, copy in zip(generated, copies, strict=True):
        assert copy.read_bytes() == source.read_bytes(), f"{copy} is stale: run `make charts-sync`"


def test_monitoring_and_admission_files_in_the_chart_are_current() -> None:
    files = OPERATOR_CHART / "files"
    pairs = [(MONITORING / "prometheusrule.yaml", files / "prometheusrule.yaml")]
    pairs += [(ADMISSION / "policies.yaml", files / "admission" / "policies.yaml")]
    pairs += [
        (p, files / "dashboards" / p.name) for p in sorted((MONITORING / "dashboards").glob("*"))
    ]
    assert sorted(p.name for p in (files / "dashboards").glob("*")) == sorted(
        p.name for p in (MONITORING / "dashboards").glob("*")
    )
    for source, copy in pairs:
        assert copy.read_bytes() == source.read_bytes(), f"{copy} is stale: run `make charts-sync`"


def test_crds_chart_renders_every_crd_with_keep_policy(helm_bin: str) -> None:
    docs = render(CRDS_CHART, release="eternal-engine-crds")
    names = sorted(d["metadata"]["name"] for d in docs)
    assert names == sorted(
        f"{p}.trading.eternal-engine.io"
        for p in ("engines", "allocations", "circuitbreakerpolicies", "modeltrainings", "backtests")
    )
    for crd in docs:
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert all(
        "helm.sh/resource-policy" not in d["metadata"].get("annotations", {})
        for d in render(CRDS_CHART, values={"keep": False})
    )


def test_paper_venue_flags_and_config_are_what_the_venue_accepts(helm_bin: str) -> None:
    config = {"seed": 11, "clock": {"mode": "accelerated", "speed": 60}}
    docs = render(values={"paperVenue": {"config": config}})
    venue_yaml = one(docs, "ConfigMap", "eternal-paper-venue")["data"]["venue.yaml"]
    VenueSettings.model_validate(yaml.safe_load(venue_yaml))
    container = one(docs, "Deployment", "eternal-paper-venue")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert "--config=/etc/paper-venue/venue.yaml" in container["args"]
    usage = subprocess.run(
        [sys.executable, "-m", "paper_venue", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert usage.returncode == 0, usage.stderr[-2000:]
    for arg in container["args"]:
        assert arg.split("=", 1)[0] in usage.stdout, arg


def test_values_schema_is_valid_and_documents_every_value() -> None:
    """The schema is itself valid draft-07, the shipped values files pass it, and every value
    a user sets in values.yaml carries a description (what `helm show values` lacks)."""
    schema = json.loads((OPERATOR_CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    defaults = yaml.safe_load((OPERATOR_CHART / "values.yaml").read_text())

    def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(base.get(key), dict)
            out[key] = merged(base[key], value) if both else value
        return out

    production = merged(defaults, yaml.safe_load(PRODUCTION_VALUES.read_text()))
    for values in (defaults, production):
        assert [e.message for e in validator.iter_errors(values)] == []

    def undocumented(node: dict[str, Any], where: str) -> list[str]:
        missing = []
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub:
                missing.append(f"{where}.{key}")
            if sub.get("type") == "object":
                missing += undocumented(sub, f"{where}.{key}")
        return missing

    assert set(defaults) <= set(schema["properties"])
    assert [m for m in undocumented(schema, "") if m.count(".") <= 2] == []


def test_the_operator_serves_its_probes_on_the_port_the_chart_probes(helm_bin: str) -> None:
    """The probes' named port is the container port the operator binds (EE_OPERATOR_HEALTH_PORT,
    read by its own health server), and the Service carries it for `helm test`."""
    docs = render(values={"operator": {"healthPort": 9191}})
    container = one(docs, "Deployment", "eternal-operator")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["health"] == 9191
    config = one(docs, "ConfigMap", "eternal-operator")["data"]
    assert config["EE_OPERATOR_HEALTH_PORT"] == "9191"
    service = one(docs, "Service", "eternal-operator-metrics")
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports["health"] == (9191, "health")
    assert ports["metrics"] == (8080, "metrics")


def helm_test_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    pods = [d for d in pick(docs, "Pod") if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    assert len(pods) == 1
    return pods[0]


@pytest.mark.parametrize("value_files", [(), (PRODUCTION_VALUES,)], ids=["default", "production"])
def test_helm_test_pod_checks_the_health_endpoint_through_the_service(
    value_files: tuple[Path, ...], helm_bin: str
) -> None:
    docs = render(value_files=value_files)
    pod = helm_test_pod(docs)
    meta = pod["metadata"]
    assert meta["annotations"]["helm.sh/hook"] == "test"
    assert "hook-succeeded" in meta["annotations"]["helm.sh/hook-delete-policy"]
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    container = spec["containers"][0]
    deploy = one(docs, "Deployment", "eternal-operator")
    operator = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == operator["image"]  # nothing else to pull
    assert container["securityContext"] == operator["securityContext"]
    assert container["command"][:2] == ["python", "-c"]
    assert container["command"][2] == (OPERATOR_CHART / "files/helm-test/health.py").read_text()
    # The URL is the Service's health port, by the Service's cluster DNS name.
    service = one(docs, "Service", "eternal-operator-metrics")
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "health")
    assert env_of(container)["EE_TEST_URL"] == (
        f"http://eternal-operator-metrics.eternal-system.svc:{port}"
    )
    # Not one of the operator's pods: the Service and the PodDisruptionBudget never pick it...
    selector = service["spec"]["selector"]
    assert not selector.items() <= meta["labels"].items()
    assert not deploy["spec"]["selector"]["matchLabels"].items() <= meta["labels"].items()
    # ... and the operator's NetworkPolicy lets exactly it reach the health port.
    policy = one(docs, "NetworkPolicy", "eternal-operator")
    from_test = [
        rule
        for rule in policy["spec"]["ingress"]
        if any(
            peer.get("podSelector", {}).get("matchLabels", {}).items() <= meta["labels"].items()
            and "podSelector" in peer
            for peer in rule["from"]
        )
    ]
    assert [r["ports"] for r in from_test] == [[{"port": "health", "protocol": "TCP"}]]


def test_helm_tests_can_be_switched_off(helm_bin: str) -> None:
    docs = render(values={"tests": {"enabled": False}})
    assert not pick(docs, "Pod")
    policy = one(docs, "NetworkPolicy", "eternal-operator")
    assert [r["ports"] for r in policy["spec"]["ingress"]] == [
        [{"port": "metrics", "protocol": "TCP"}]
    ]


class _Operator(http.server.BaseHTTPRequestHandler):
    """Stands in for the operator's health endpoints behind the Service."""

    answers: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {}

    def do_GET(self) -> None:
        status, body = self.answers.get(self.path, (404, {}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        return


# What eternal_operator.health answers (tests/unit/operator/test_health.py pins those shapes).
STANDBY = {"ok": True, "identity": "op-b", "role": "standby", "holder": "op-a"}
ALONE = {"ok": True, "leaderElection": False, "role": "leader"}


@pytest.mark.parametrize(
    ("answers", "passes", "says"),
    [
        ({"/healthz": (200, STANDBY), "/readyz": (200, STANDBY)}, True, "answers"),
        ({"/healthz": (200, ALONE), "/readyz": (200, ALONE)}, True, "answers"),
        (
            {"/healthz": (200, STANDBY), "/readyz": (200, {**STANDBY, "holder": None})},
            False,
            "no replica holds the Lease",
        ),
        (
            {"/healthz": (200, STANDBY), "/readyz": (503, {**STANDBY, "ok": False})},
            False,
            "/readyz answered 503",
        ),
        ({"/healthz": (503, {"ok": False})}, False, "/healthz answered 503"),
    ],
    ids=["healthy", "no-leader-election", "no-leader", "not-ready", "stuck"],
)
def test_the_helm_test_script_fails_unless_the_operator_answers(
    answers: dict[str, tuple[int, dict[str, Any]]], passes: bool, says: str, helm_bin: str
) -> None:
    """The script the test Pod runs (taken from the rendered Pod), against a stand-in operator on
    loopback: it passes only on 200s from both endpoints and a known Lease holder."""
    script = helm_test_pod(render())["spec"]["containers"][0]["command"][2]
    handler = type("Operator", (_Operator,), {"answers": answers})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            "EE_TEST_URL": f"http://127.0.0.1:{server.server_address[1]}",
            "EE_TEST_ATTEMPTS": "2",
            "EE_TEST_DELAY_SECONDS": "0",
        }
        result = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    assert says in result.stdout + result.stderr


def test_service_monitors_keep_the_exporters_labels_and_name_the_alerts_jobs(
    helm_bin: str,
) -> None:
    """The governance series' `namespace` is the policy's (not the operator's, renamed
    exported_namespace), and the `up` rules find the jobs and engines the monitors set."""
    docs = render(values={"metrics": {"serviceMonitor": {"enabled": True}}})
    monitors = {m["metadata"]["name"]: m for m in pick(docs, "ServiceMonitor")}
    assert set(monitors) == {"eternal-operator", "eternal-operator-runtimes"}
    jobs = {}
    for name, monitor in monitors.items():
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["honorLabels"] is True, name
        relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
        jobs[name] = relabel["job"]["replacement"]
    assert jobs == {
        "eternal-operator": "eternal-engine-operator",
        "eternal-operator-runtimes": "eternal-engine-runtime",
    }
    engine = {
        r["targetLabel"]: r
        for r in monitors["eternal-operator-runtimes"]["spec"]["endpoints"][0]["relabelings"]
    }["engine"]
    assert engine["sourceLabels"] == [
        "__meta_kubernetes_service_label_trading_eternal_engine_io_engine"
    ]
    rules = (MONITORING / "prometheusrule.yaml").read_text()
    used = set(re.findall(r'up\{job="([a-z-]+)"', rules))
    assert used == set(jobs.values())
