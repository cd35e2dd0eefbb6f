"""Fixtures shared across the suites. The control plane starts once per session, on demand."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from eternal_operator.devtools.controlplane import ControlPlane, find_binaries
from support import terminal


def pytest_configure(config: pytest.Config) -> None:
    terminal.configure(config)


KINDS = ("unit", "integration", "cluster", "e2e")
"""Every test says what it needs (pyproject's markers): `make test-unit` selects by them."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: an unmarked test is never just left out
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [i.nodeid for i in items if not any(i.get_closest_marker(k) for k in KINDS)]
    if unmarked:
        listed = "\n  ".join(unmarked[:20])
        raise pytest.UsageError(f"tests without a kind marker {KINDS}:\n  {listed}")


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A real etcd + kube-apiserver (+ GC controller) on loopback with the CRDs and the admission
    policies installed (the status-writers policy bound to the admin user the tests and their
    operators act as).

    Built on first use (cached under ~/.cache/eternal-engine); every process stops at the end of
    the session, and dies with the test run even if it is killed.
    """
    with terminal.visible():  # a cold build takes minutes: its progress on the terminal
        bin_dir = find_binaries()
    plane = ControlPlane(data_dir=Path(tmp_path_factory.mktemp("controlplane")), bin_dir=bin_dir)
    with plane:
        plane.install_crds()
        plane.install_admission()
        yield plane


@pytest.fixture
def namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    slug = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"t-{slug}-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server for the session (fsync off); yields the URL of database `postgres`.

    Tests that need isolation create their own database on it (`CREATE DATABASE`), or key
    their rows apart (the runtime's rows carry the engine's namespace/name).
    """
    from eternal_operator.devtools.datastores import PostgresServer

    with PostgresServer(Path(tmp_path_factory.mktemp("postgres"))) as server:
        yield server.url


@pytest.fixture(scope="session")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server for the session (no persistence); yields its URL (database 0)."""
    from eternal_operator.devtools.datastores import RedisServer

    with RedisServer(Path(tmp_path_factory.mktemp("redis"))) as server:
        yield server.url
