"""The phase pass takes the Engine's runtime Deployment from the operator's watch (a kopf index)
instead of reading it: it reads nothing when the Deployment seen is the Engine's with the
replicas its status wants, and runs the whole reconcile otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eternal_kernel.api.v1alpha1 import Engine
from eternal_operator.controllers.engine import deployments, render
from eternal_operator.controllers.engine.deployments import Seen
from eternal_operator.controllers.engine.reconcile import Context, refresh_phase
from eternal_operator.settings import OperatorSettings
from support.malformed import sample

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
SETTINGS = OperatorSettings(runtime_image="example/runtime:1", simulator_url="http://venue:8399")
REF = render.EngineRef(name="trend", namespace="fleet", uid="uid-trend")
NAME = render.RuntimeNames.of("trend").deployment
HALT = {"policy": "p", "sequence": 3, "level": 4, "sizeMultiplier": 0.0, "entriesPaused": True,
        "closeDirectional": True, "halt": True, "reason": "emergency halt"}  # fmt: skip


class Reconciled(Exception):
    """The pass went on to the whole reconcile (its first read)."""


class NoReads:
    def __getattr__(self, verb: str) -> Any:
        async def call(*_: Any, **__: Any) -> Any:
            raise Reconciled(verb)

        return call


def ctx() -> Context:
    return Context(kube=NoReads(), settings=SETTINGS, venue=None, clock=lambda: NOW)  # type: ignore[arg-type]


def halting(**governance: Any) -> dict[str, Any]:
    """A Running Engine whose record just said halt, its runtime not flat yet."""
    heartbeat = (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = sample("engine-trend.yaml")
    return {
        "metadata": {"name": "trend", "namespace": "fleet", "uid": "uid-trend", "generation": 1},
        "spec": manifest["spec"],
        "status": {"phase": "Running", "governance": {**HALT, **governance},
                   "runtime": {"heartbeat": heartbeat, "flat": False, "venueConnected": True}},
    }  # fmt: skip


def test_the_index_holds_what_the_operator_renders() -> None:
    engine = Engine.model_validate(sample("engine-trend.yaml"))
    [rendered] = [o for o in render.render_all(engine, REF, SETTINGS, replicas=1)
                  if o["kind"] == "Deployment"]  # fmt: skip
    assert deployments.RUNTIME_LABELS.items() <= rendered["metadata"]["labels"].items()
    assert deployments.seen("fleet", NAME, rendered) == {("fleet", NAME): Seen("uid-trend", 1)}
    del rendered["spec"]["replicas"]  # the API server's default
    assert deployments.seen("fleet", NAME, rendered)[("fleet", NAME)].replicas == 1


async def test_a_deployment_seen_as_the_status_wants_it_is_not_read() -> None:
    seen = {("fleet", NAME): [Seen("uid-trend", 1)]}
    passed = await refresh_phase(ctx(), halting(), seen)
    assert passed.status["phase"] == "Halting"


@pytest.mark.parametrize(
    ("seen", "governance"),
    [
        ({}, {}),  # not seen (yet, or deleted)
        ({("other", NAME): [Seen("uid-trend", 1)]}, {}),  # another namespace's
        ({("fleet", NAME): [Seen("uid-gone", 1)]}, {}),  # an Engine of that name before it
        ({("fleet", NAME): [Seen("uid-trend", 1)]}, {"runtimeStopped": True}),  # to scale to 0
        ({("fleet", NAME): [Seen("uid-trend", 0)]}, {}),  # to scale up again
    ],
)
async def test_anything_else_gets_the_whole_reconcile(
    seen: deployments.Index, governance: dict[str, Any]
) -> None:
    with pytest.raises(Reconciled):
        await refresh_phase(ctx(), halting(**governance), seen)
