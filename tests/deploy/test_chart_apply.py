"""The charts' rendered objects are accepted by a real kube-apiserver (server-side apply with
strict field validation): the Kubernetes schemas, the CRDs' own schemas and the stand-ins of the
Prometheus Operator kinds all check them."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator

import pytest

from deploy.tooling import (
    CRDS_CHART,
    OPERATOR_CHART,
    PRODUCTION_VALUES,
    REPO,
    Obj,
    apply,
    render,
)
from eternal_operator.devtools.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("thirdparty_crds", "helm_bin")]


@pytest.fixture
def fleet_namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = f"fleet-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def install(plane: ControlPlane, docs: list[Obj], *extra: str) -> str:
    """Server-side apply as a dry run: every check (schemas, strict fields, admission) runs, but
    no Deployment is left for a pod runner or operator elsewhere in the session to act on.

    A Pod (the `helm test` hook) is admitted only if its ServiceAccount exists, dry run or not,
    so ServiceAccounts, which do nothing by themselves, are applied for real first."""
    if any(d["kind"] == "Pod" for d in docs):
        apply(plane, [d for d in docs if d["kind"] == "ServiceAccount"], *extra)
    result = apply(plane, docs, "--dry-run=server", *extra, check=False)
    assert result.returncode == 0, result.stderr
    applied = result.stdout.count("serverside-applied (server dry run)")
    assert applied == len(docs), result.stdout
    return result.stdout + result.stderr


def test_default_values_apply(control_plane: ControlPlane, namespace: str) -> None:
    release = f"r{secrets.token_hex(3)}"
    out = install(control_plane, render(release=release, namespace=namespace))
    assert f"deployment.apps/{release}-operator serverside-applied" in out
    assert f"deployment.apps/{release}-paper-venue serverside-applied" in out
    assert f"clusterrole.rbac.authorization.k8s.io/{release}-operator serverside-applied" in out


def test_production_values_apply(
    control_plane: ControlPlane, namespace: str, fleet_namespace: str
) -> None:
    release = f"r{secrets.token_hex(3)}"
    docs = render(
        release=release,
        namespace=namespace,
        value_files=[PRODUCTION_VALUES],
        values={"operator": {"watchNamespaces": [fleet_namespace]}},
    )
    kinds = {d["kind"] for d in docs}
    assert {"PrometheusRule", "ServiceMonitor", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    out = install(control_plane, docs)
    assert f"role.rbac.authorization.k8s.io/{release}-operator serverside-applied" in out
    assert f"prometheusrule.monitoring.coreos.com/{release}-operator serverside-applied" in out


def test_every_optional_feature_applies(control_plane: ControlPlane, namespace: str) -> None:
    release = f"r{secrets.token_hex(3)}"
    values = {
        "replicaCount": 3,
        "metrics": {
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True},
            "dashboards": {"enabled": True},
        },
        "paperVenue": {"config": {"seed": 11, "clock": {"mode": "accelerated", "speed": 60}}},
        "database": {"existingSecret": "pg", "key": "url"},
        "redis": {"existingSecret": "redis", "key": "url"},
        "operator": {"extraEnv": [{"name": "EXTRA", "value": "1"}]},
    }
    docs = render(release=release, namespace=namespace, values=values)
    assert {d["kind"] for d in docs} >= {"ConfigMap", "PodDisruptionBudget", "ServiceMonitor"}
    install(control_plane, docs)


def test_pods_meet_the_restricted_pod_security_standard(
    control_plane: ControlPlane, namespace: str
) -> None:
    """The fleet namespaces enforce `restricted` (terraform, overlays): the API server's
    PodSecurity admission warns about any Deployment whose pods it would refuse there."""
    control_plane.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/warn=restricted",
        "pod-security.kubernetes.io/enforce=restricted",
    )
    docs = render(release=f"r{secrets.token_hex(3)}", namespace=namespace)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert len(deployments) == 2  # operator, paper venue
    assert "would violate PodSecurity" not in install(control_plane, deployments)
    # the `helm test` Pod too
    pods = [d for d in docs if d["kind"] in ("Pod", "ServiceAccount")]
    assert [d["kind"] for d in pods] == ["ServiceAccount", "Pod"]
    assert "would violate PodSecurity" not in install(control_plane, pods)
    # the check itself works: a container that keeps a capability is reported
    bad = deployments[0]
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"] = {
        "add": ["NET_RAW"]
    }
    assert 'would violate PodSecurity "restricted:latest"' in install(control_plane, [bad])


def test_a_bad_object_is_refused(control_plane: ControlPlane, namespace: str) -> None:
    """The check itself works: strict validation refuses what the schemas do not know."""
    docs = render(release=f"r{secrets.token_hex(3)}", namespace=namespace)
    service = next(d for d in docs if d["kind"] == "Service")
    service["spec"]["portz"] = []
    result = apply(control_plane, [service], "--dry-run=server", check=False)
    assert result.returncode != 0
    assert ".spec.portz: field not declared in schema" in result.stderr


def test_crds_chart_applies(control_plane: ControlPlane) -> None:
    docs = render(CRDS_CHART, release="eternal-engine-crds")
    result = apply(control_plane, docs, "--dry-run=server", check=False)
    assert result.returncode == 0, result.stderr
    kinds = sorted(
        p.name.split("_", 1)[1].removesuffix(".yaml") for p in (REPO / "crds").glob("*.yaml")
    )
    applied = sorted(
        line.split("/", 1)[1].split(".", 1)[0]
        for line in result.stdout.splitlines()
        if line.endswith("serverside-applied (server dry run)")
    )
    assert applied == kinds  # every generated CRD, and nothing else
    assert len(kinds) == 5


def test_helm_install_against_the_api_server_prints_the_notes(
    control_plane: ControlPlane, namespace: str, helm_bin: str
) -> None:
    """`helm install --dry-run=server`: helm itself talks to the API server (capabilities,
    lookups) and renders NOTES.txt, which tells the user what was installed."""
    result = subprocess.run(
        [
            helm_bin,
            "install",
            "eternal",
            str(OPERATOR_CHART),
            "--namespace",
            namespace,
            "--dry-run=server",
            f"--kubeconfig={control_plane.kubeconfig}",
            "--set",
            "operator.watchNamespaces={fleet-a,fleet-b}",
            # The test control plane has the (cluster-scoped) admission policies already, from
            # its own install; helm does not adopt objects it did not create. The kubectl
            # server-side applies above check the chart's copies against the API server.
            "--set",
            "admission.enabled=false",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "namespaces fleet-a, fleet-b (one Role each)" in notes
    assert f"Lease {namespace}/eternal-engine-operator" in notes
    assert "Mainnet: refused" in notes
    assert f"helm test eternal -n {namespace} --logs" in notes
