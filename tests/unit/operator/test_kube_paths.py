"""The operator's calls are counted by the resource their path names: what `resource_path`
builds, `resource_of` reads back, for every kind, named or not, in a namespace or not."""

from __future__ import annotations

import pytest

from eternal_operator.kube import _PLURALS, resource_of, resource_path

pytestmark = pytest.mark.unit

API = {"Deployment": "apps/v1", "Lease": "coordination.k8s.io/v1", "Job": "batch/v1",
       "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
       "Engine": "trading.eternal-engine.io/v1alpha1",
       "Allocation": "trading.eternal-engine.io/v1alpha1",
       "CircuitBreakerPolicy": "trading.eternal-engine.io/v1alpha1",
       "ModelTraining": "trading.eternal-engine.io/v1alpha1",
       "Backtest": "trading.eternal-engine.io/v1alpha1"}  # fmt: skip


@pytest.mark.parametrize(("kind", "plural"), sorted(_PLURALS.items()))
@pytest.mark.parametrize("namespace", ["fleet", None])
@pytest.mark.parametrize("name", ["trend", None])
def test_the_resource_of_every_path_the_client_builds(
    kind: str, plural: str, namespace: str | None, name: str | None
) -> None:
    path = resource_path(API.get(kind, "v1"), kind, namespace, name)
    assert resource_of(path) == plural
    assert resource_of(path + "/status") == plural


def test_a_namespace_itself() -> None:
    assert resource_of("/api/v1/namespaces/fleet") == "namespaces"
