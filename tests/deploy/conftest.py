"""Fixtures of the deployment tests: third-party CRD stand-ins and the admin API client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.tooling import FIXTURES, Api, ToolError, helm_binary, load_yaml_docs
from eternal_operator.devtools.controlplane import ControlPlane


@pytest.fixture(scope="session")
def helm_bin() -> str:
    """The pinned helm; built on first use (a few minutes cold, cached afterwards)."""
    try:
        return helm_binary()
    except ToolError as error:  # pragma: no cover - a machine without Go
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def thirdparty_crds(control_plane: ControlPlane) -> Iterator[None]:
    """The Prometheus Operator, Argo CD and External Secrets kinds our manifests use."""
    path = FIXTURES / "thirdparty-crds.yaml"
    control_plane.kubectl("apply", "--server-side", "-f", str(path))
    names = [f"crd/{d['metadata']['name']}" for d in load_yaml_docs(path)]
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    return


@pytest.fixture(scope="session")
def api(control_plane: ControlPlane) -> Api:
    return Api(control_plane)
