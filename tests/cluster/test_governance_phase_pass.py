"""The phase pass takes each Engine's runtime Deployment from the operator's watch, against a real
API server with the operator running (its resync out of the way): the passes a halt and the
runtimes' flat reports run read no Deployment, and a Deployment deleted meanwhile is seen gone
and recreated by the Engine's next pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from support.governance import (
    Runtimes,
    emergency_halt,
    engine,
    keys,
    metric,
    own_namespace,
    phase_of,
    policy,
    start,
)
from support.kube import apply, get
from support.processes import Operator, Venue
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

PREFIX = "phasepass"
ENGINES = {"a": "60000", "b": "40000"}


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = Path(tmp_path_factory.mktemp("phasepass")) / "op.log"
    op = start(control_plane, paper_venue, log, prefix=PREFIX, resync_seconds="3600")
    yield op
    op.stop()


@pytest.fixture
def ns(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    with own_namespace(control_plane, PREFIX) as name:
        yield name


def deployment_reads(op: Operator) -> float:
    return metric(op, "eternal_operator_api_calls_total", 'verb="GET"', 'resource="deployments"')


def engine_passes(op: Operator) -> float:
    return metric(op, "eternal_operator_reconciles_total", 'kind="Engine"')


def phases(plane: ControlPlane, ns: str) -> set[str]:
    return {phase_of(plane, ns, n) or "" for n in ENGINES}


def test_a_halts_phase_passes_read_no_deployment(
    control_plane: ControlPlane, operator: Operator, ns: str
) -> None:
    keys(control_plane, ns)
    for name in ENGINES:
        apply(control_plane, ns, engine(name))
    with Runtimes(control_plane, ns, ENGINES) as runtimes:
        apply(control_plane, ns, policy(haltDeadlineSeconds=600))  # no deadline check meanwhile
        wait_for(lambda: phases(control_plane, ns) == {"Running"}, 60, "every Engine Running")
        reads, passes = deployment_reads(operator), engine_passes(operator)

        emergency_halt(control_plane, ns, True)
        # The record shows Halting; each runtime's flat report, after it, runs a phase pass.
        wait_for(lambda: phases(control_plane, ns) == {"Halted"}, 30, "every Engine Halted")
        assert engine_passes(operator) >= passes + len(ENGINES)
        assert deployment_reads(operator) == reads

        deployment = get(control_plane, "deployment", "a-runtime", ns)
        assert deployment is not None
        control_plane.kubectl("delete", "deployment", "a-runtime", "-n", ns, "--wait=true")

        def recreated() -> bool:
            runtimes.obey = not runtimes.obey  # flat or not: a phase pass each time
            again = get(control_plane, "deployment", "a-runtime", ns)
            return again is not None and again["metadata"]["uid"] != deployment["metadata"]["uid"]

        wait_for(recreated, 30, "the deleted Deployment recreated by a phase pass")
