"""Cluster-suite fixtures: the paper venue as a real process, shared by the session; and, for
the Engine controller's modules, an operator of the module's own (its namespaces start with the
module's `PREFIX`), a fresh namespace per test, and SUB1's venue session cleaned after it. A
module that needs another operator defines its own `operator` and `ns`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.devtools.processes import stop
from support import processes
from support.engines import leading_operator
from support.processes import Operator, Venue, start_venue


@pytest.fixture(scope="session")
def paper_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    venue = start_venue(Path(tmp_path_factory.mktemp("venue")) / "venue.log")
    yield venue
    stop(venue.process)


@pytest.fixture(scope="module")
def operator(
    request: pytest.FixtureRequest,
    control_plane: ControlPlane,
    paper_venue: Venue,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    log = Path(tmp_path_factory.mktemp("operator")) / "operator.log"
    op = leading_operator(
        control_plane,
        paper_venue,
        log,
        request.module.PREFIX,
        error_backoff_seconds="1",
        error_backoff_max_seconds="30",
    )
    yield op
    op.stop()


@pytest.fixture
def ns(
    request: pytest.FixtureRequest, control_plane: ControlPlane, operator: Operator
) -> Iterator[str]:
    name = f"{request.module.PREFIX}-{secrets.token_hex(4)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def venue_sub1(paper_venue: Venue) -> Iterator[Any]:
    session = http_session(paper_venue.url, processes.SUB1_KEY, processes.SUB1_SECRET)
    yield session
    session.cancel_all_orders(category="spot")
    session.cancel_all_orders(category="linear", settleCoin="USDT")
