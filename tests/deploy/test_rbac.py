"""Least privilege, proven by the API server: SubjectAccessReviews for the operator's service
account (as the chart grants it, cluster-wide and namespaced) and for a runtime's (as the
operator renders it): each can do what it needs, and nothing more."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.tooling import (
    Api,
    Obj,
    apply,
    delete_cluster_scoped,
    one,
    render,
    service_account_user,
)
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams
from eternal_kernel.api.v1alpha1.training import ModelTrainingSpec
from eternal_operator.controllers.training import render as training
from eternal_operator.devtools.controlplane import ControlPlane

GROUP = "trading.eternal-engine.io"
ALL = ["get", "list", "watch", "create", "patch", "update", "delete"]
KINDS = ["engines", "allocations", "circuitbreakerpolicies", "modeltrainings", "backtests"]

# The operator's needs, as agreed with the operator (a triple per (group, resource, verb)).
NAMESPACED_NEEDS = {
    *(
        (GROUP, kind, verb)
        for kind in KINDS
        for verb in ["get", "list", "watch", "patch", "update"]
    ),
    *((GROUP, f"{kind}/status", verb) for kind in KINDS for verb in ["get", "patch", "update"]),
    (GROUP, "engines/finalizers", "update"),
    (GROUP, "modeltrainings/finalizers", "update"),
    (GROUP, "backtests/finalizers", "update"),
    *(("batch", "jobs", verb) for verb in ["get", "list", "watch", "create", "delete"]),
    *(("apps", "deployments", verb) for verb in ALL),
    *(("", res, verb) for res in ["configmaps", "services", "serviceaccounts"] for verb in ALL),
    *(("", "secrets", verb) for verb in ALL),
    *(
        ("rbac.authorization.k8s.io", res, verb)
        for res in ["roles", "rolebindings"]
        for verb in ALL
    ),
    *((group, "events", verb) for group in ["", "events.k8s.io"] for verb in ["create", "patch"]),
}


def triples(role: Obj) -> set[tuple[str, str, str]]:
    out = set()
    for rule in role["rules"]:
        assert "resourceNames" not in rule or role["kind"] == "Role"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), f"wildcard in {role}"
                    out.add((group, resource, verb))
    return out


@pytest.mark.unit
def test_chart_grants_exactly_the_agreed_rules(helm_bin: str) -> None:
    clusterwide = render()
    assert triples(one(clusterwide, "ClusterRole", "eternal-operator")) == NAMESPACED_NEEDS
    assert triples(one(clusterwide, "ClusterRole", "eternal-operator-discovery")) == {
        ("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ["get", "list", "watch"]
    } | {("", "namespaces", v) for v in ["list", "watch"]}
    namespaced = render(values={"operator": {"watchNamespaces": ["a", "b"]}})
    roles = [
        d for d in namespaced if d["kind"] == "Role" and d["metadata"]["name"] == "eternal-operator"
    ]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["a", "b"]
    assert all(triples(r) == NAMESPACED_NEEDS for r in roles)
    lease = one(namespaced, "Role", "eternal-operator-leader-election")
    assert lease["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["eternal-engine-operator"],
            "verbs": ["get", "update"],
        },
    ]
    claims = one(namespaced, "Role", "eternal-operator-subaccount-claims")
    assert claims["metadata"]["namespace"] == "eternal-system"
    assert triples(claims) == {
        ("coordination.k8s.io", "leases", v) for v in ["get", "list", "create", "update", "delete"]
    }


@pytest.fixture
def other_namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = f"other-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def install_chart(
    plane: ControlPlane, namespace: str, values: dict[str, Any] | None = None
) -> Iterator[str]:
    release = f"r{secrets.token_hex(3)}"
    docs = [
        d
        for d in render(release=release, namespace=namespace, values=values)
        if d["kind"]
        in {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    ]
    try:
        apply(plane, docs)
        yield service_account_user(namespace, f"{release}-operator")
    finally:
        delete_cluster_scoped(plane, docs)


@pytest.fixture
def clusterwide_operator(control_plane: ControlPlane, namespace: str) -> Iterator[str]:
    yield from install_chart(control_plane, namespace)


@pytest.fixture
def fleet_namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = f"fleet-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespaced_operator(
    control_plane: ControlPlane, namespace: str, fleet_namespace: str
) -> Iterator[str]:
    yield from install_chart(
        control_plane, namespace, {"operator": {"watchNamespaces": [fleet_namespace]}}
    )


@pytest.mark.cluster
def test_clusterwide_operator_can_do_its_work(
    api: Api, clusterwide_operator: str, namespace: str, other_namespace: str
) -> None:
    sa = clusterwide_operator
    for ns in (namespace, other_namespace):
        for verb in ["get", "list", "watch", "patch", "update"]:
            assert api.can(sa, verb, "engines", group=GROUP, namespace=ns), verb
        for kind in KINDS:
            assert api.can(sa, "patch", kind, group=GROUP, namespace=ns, subresource="status")
        for verb in ["create", "patch", "delete"]:
            assert api.can(sa, verb, "deployments", group="apps", namespace=ns)
            assert api.can(sa, verb, "roles", group="rbac.authorization.k8s.io", namespace=ns)
            assert api.can(sa, verb, "secrets", namespace=ns)
        assert api.can(sa, "create", "events", namespace=ns)
        assert api.can(sa, "create", "events", group="events.k8s.io", namespace=ns)
        for verb in ["create", "watch", "delete"]:  # a ModelTraining's Job
            assert api.can(sa, verb, "jobs", group="batch", namespace=ns)
    assert api.can(sa, "list", "engines", group=GROUP)  # every namespace at once
    assert api.can(sa, "watch", "customresourcedefinitions", group="apiextensions.k8s.io")
    assert api.can(sa, "list", "namespaces")
    lease = {"group": "coordination.k8s.io", "namespace": namespace}
    assert api.can(sa, "create", "leases", **lease)
    assert api.can(sa, "update", "leases", name="eternal-engine-operator", **lease)


@pytest.mark.cluster
def test_clusterwide_operator_can_do_nothing_more(
    api: Api, clusterwide_operator: str, namespace: str, other_namespace: str
) -> None:
    sa = clusterwide_operator
    # the fleet's spec belongs to Git: the operator never creates or deletes Engines
    assert not api.can(sa, "create", "engines", group=GROUP, namespace=namespace)
    assert not api.can(sa, "delete", "engines", group=GROUP, namespace=namespace)
    assert not api.can(sa, "deletecollection", "secrets", namespace=namespace)
    for verb, resource, group in [
        ("create", "pods", ""),
        ("create", "pods/exec", ""),
        ("get", "nodes", ""),
        ("create", "namespaces", ""),
        ("delete", "namespaces", ""),
        ("create", "customresourcedefinitions", "apiextensions.k8s.io"),
        ("update", "customresourcedefinitions", "apiextensions.k8s.io"),
        ("create", "clusterroles", "rbac.authorization.k8s.io"),
        ("create", "clusterrolebindings", "rbac.authorization.k8s.io"),
        ("escalate", "roles", "rbac.authorization.k8s.io"),
        ("bind", "roles", "rbac.authorization.k8s.io"),
        ("impersonate", "serviceaccounts", ""),
        ("create", "serviceaccounts/token", ""),
        ("create", "deployments", "extensions"),
        ("update", "deployments/scale", "apps"),
        ("create", "cronjobs", "batch"),
        ("patch", "jobs", "batch"),
    ]:
        assert not api.can(sa, verb, resource, group=group, namespace=namespace), (verb, resource)
    lease = {"group": "coordination.k8s.io"}
    # Leases only in its own namespace (its leader election, and its subaccount claims).
    for verb in ["get", "list", "create", "update", "delete"]:
        assert api.can(sa, verb, "leases", namespace=namespace, **lease), verb
        assert not api.can(sa, verb, "leases", namespace=other_namespace, **lease), verb
        assert not api.can(sa, verb, "leases", namespace="kube-system", **lease), verb


@pytest.mark.cluster
def test_namespaced_operator_stays_in_its_namespaces(
    api: Api, namespaced_operator: str, fleet_namespace: str, other_namespace: str
) -> None:
    sa = namespaced_operator
    assert api.can(sa, "watch", "engines", group=GROUP, namespace=fleet_namespace)
    assert api.can(sa, "get", "secrets", namespace=fleet_namespace)
    assert api.can(sa, "create", "deployments", group="apps", namespace=fleet_namespace)
    assert api.can(sa, "list", "customresourcedefinitions", group="apiextensions.k8s.io")

    for ns in (other_namespace, "kube-system", "default"):
        assert not api.can(sa, "get", "secrets", namespace=ns), ns
        assert not api.can(sa, "list", "secrets", namespace=ns), ns
        assert not api.can(sa, "get", "engines", group=GROUP, namespace=ns), ns
        assert not api.can(sa, "create", "deployments", group="apps", namespace=ns), ns
        assert not api.can(sa, "create", "roles", group="rbac.authorization.k8s.io", namespace=ns)
    assert not api.can(sa, "list", "engines", group=GROUP)  # not across namespaces
    assert not api.can(sa, "list", "secrets")
    assert not api.can(sa, "list", "namespaces")


# -- the runtime's ServiceAccount, as the operator renders it per Engine ----------------------


def runtime_objects(engine: str, namespace: str) -> list[Obj]:
    render_mod = pytest.importorskip(
        "eternal_operator.controllers.engine.render",
        reason="the operator's runtime renderer is not importable yet",
    )
    ref = render_mod.EngineRef(name=engine, namespace=namespace, uid="00000000-0000-0000-0000-0")
    objs = [render_mod.service_account(ref), render_mod.role(ref), render_mod.role_binding(ref)]
    for obj in objs:
        obj["metadata"].pop("ownerReferences", None)  # no Engine object in this test
    return objs


@pytest.mark.cluster
def test_runtime_reads_its_own_engine_and_patches_its_status_only(
    api: Api, control_plane: ControlPlane, namespace: str
) -> None:
    apply(control_plane, runtime_objects("trend", namespace))
    apply(control_plane, runtime_objects("funding", namespace))
    sa = service_account_user(namespace, "trend-runtime")
    own = {"group": GROUP, "namespace": namespace, "name": "trend"}
    other = {"group": GROUP, "namespace": namespace, "name": "funding"}

    for verb in ["get", "list", "watch"]:
        assert api.can(sa, verb, "engines", **own), verb
    assert api.can(sa, "patch", "engines", subresource="status", **own)

    assert not api.can(sa, "patch", "engines", subresource="status", **other)
    assert not api.can(sa, "get", "engines", **other)
    assert not api.can(sa, "list", "engines", group=GROUP, namespace=namespace)  # all of them
    assert not api.can(sa, "patch", "engines", **own)  # its spec belongs to Git
    assert not api.can(sa, "update", "engines", **own)
    assert not api.can(sa, "delete", "engines", **own)
    for resource, group in [
        ("secrets", ""),
        ("configmaps", ""),
        ("deployments", "apps"),
        ("allocations", GROUP),
    ]:
        assert not api.can(sa, "get", resource, group=group, namespace=namespace), resource
    # It hears a halt from the policies of its namespace too, and can change none of them.
    for verb in ["get", "list", "watch"]:
        assert api.can(sa, verb, "circuitbreakerpolicies", group=GROUP, namespace=namespace)
    assert not api.can(sa, "patch", "circuitbreakerpolicies", group=GROUP, namespace=namespace)
    assert not api.can(
        sa, "patch", "circuitbreakerpolicies", subresource="status", group=GROUP,
        namespace=namespace,
    )  # fmt: skip
    assert not api.can(sa, "list", "circuitbreakerpolicies", group=GROUP, namespace="default")
    assert not api.can(sa, "get", "engines", group=GROUP, namespace="default", name="trend")


@pytest.mark.cluster
def test_operator_may_grant_the_runtime_role_without_escalate(
    control_plane: ControlPlane, namespace: str, fleet_namespace: str
) -> None:
    """RBAC refuses a Role that grants more than its creator holds: acting as the operator's
    service account, creating a runtime's Role and RoleBinding must succeed without the
    `escalate` and `bind` verbs."""
    for operator_sa in install_chart(
        control_plane, namespace, {"operator": {"watchNamespaces": [fleet_namespace]}}
    ):
        objs = runtime_objects("core-hodl", fleet_namespace)
        result = apply(
            control_plane,
            objs,
            f"--as={operator_sa}",
            "--as-group=system:serviceaccounts",
            check=False,
        )
        assert result.returncode == 0, result.stderr
        # and the same service account cannot do it where it does not manage Engines
        outside = runtime_objects("core-hodl", namespace)
        denied = apply(
            control_plane,
            outside,
            f"--as={operator_sa}",
            "--as-group=system:serviceaccounts",
            check=False,
        )
        assert denied.returncode != 0
        assert "forbidden" in denied.stderr.lower()


# -- a ModelTraining's training pod, as the operator renders its ServiceAccount ---------------


def training_objects(name: str, output: str, namespace: str) -> list[Obj]:
    ref = training.TrainingRef(name=name, namespace=namespace, uid="0")
    spec = ModelTrainingSpec.model_validate({
        "outputConfigMap": output,
        "data": {"venueHistory": {"symbols": ["BTCUSDT"]}},
    })  # fmt: skip
    objs = training.render_support(ref, training.Plan(spec, MetaTrendParams()))
    for obj in objs:
        obj["metadata"].pop("ownerReferences", None)  # no ModelTraining object in this test
    return objs


@pytest.mark.cluster
def test_a_training_pod_may_update_its_output_configmap_and_nothing_else(
    api: Api, control_plane: ControlPlane, namespace: str
) -> None:
    apply(control_plane, training_objects("mt", "mt-model", namespace))
    sa = service_account_user(namespace, "mt-training")
    own = {"namespace": namespace, "name": "mt-model"}
    assert api.can(sa, "get", "configmaps", **own)
    assert api.can(sa, "update", "configmaps", **own)
    assert not api.can(sa, "delete", "configmaps", **own)
    assert not api.can(sa, "get", "configmaps", namespace=namespace, name="other-model")
    assert not api.can(sa, "update", "configmaps", namespace=namespace, name="mt-runtime-config")
    assert not api.can(sa, "list", "configmaps", namespace=namespace)
    assert not api.can(sa, "create", "configmaps", namespace=namespace)
    for resource, group in [("secrets", ""), ("engines", GROUP), ("modeltrainings", GROUP),
                            ("jobs", "batch")]:  # fmt: skip
        assert not api.can(sa, "get", resource, group=group, namespace=namespace), resource
    assert not api.can(
        sa, "patch", "modeltrainings", subresource="status", group=GROUP, namespace=namespace,
        name="mt",
    )  # fmt: skip
