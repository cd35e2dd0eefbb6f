"""The Engine's objects as the operator's watch saw them (kopf indices): the phase pass takes the
runtime Deployment from them instead of reading it (it reads nothing when the Deployment seen is
the Engine's with the replicas its status wants, and runs the whole reconcile otherwise); the
whole reconcile compares what it renders with them, reading only the Deployment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eternal_kernel.api.v1alpha1 import Engine
from eternal_operator.controllers.engine import render, watched
from eternal_operator.controllers.engine.reconcile import Context, refresh_phase
from eternal_operator.controllers.engine.watched import Seen
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


def rendered() -> list[dict[str, Any]]:
    engine = Engine.model_validate(sample("engine-trend.yaml"))
    return render.render_all(engine, REF, SETTINGS, replicas=1)


def test_every_kind_the_operator_renders_is_watched_with_the_labels_it_carries() -> None:
    objects = rendered()
    assert {o["kind"] for o in objects} == set(watched.KINDS)
    for o in objects:
        assert watched.RUNTIME_LABELS.items() <= o["metadata"]["labels"].items(), o["kind"]
        assert watched.KINDS[o["kind"]][0] == o["apiVersion"]


def test_the_index_keeps_the_object_without_its_status_and_managed_fields() -> None:
    [deployment] = [o for o in rendered() if o["kind"] == "Deployment"]
    meta = {**deployment["metadata"], "managedFields": [{"manager": "x"}]}
    live = {**deployment, "status": {"replicas": 1}, "metadata": meta}
    [(key, entry)] = watched.seen("fleet", NAME, live).items()
    assert key == ("fleet", NAME)
    assert (entry.owner, entry.replicas) == ("uid-trend", 1)
    assert entry.object() == deployment
    del live["spec"]["replicas"]  # the API server's default
    assert watched.seen("fleet", NAME, live)[key].replicas == 1


def deployment_seen(owner: str, replicas: int) -> watched.Watched:
    return {"Deployment": {("fleet", NAME): [Seen(owner, replicas)]}}


async def test_a_deployment_seen_as_the_status_wants_it_is_not_read() -> None:
    passed = await refresh_phase(ctx(), halting(), deployment_seen("uid-trend", 1))
    assert passed.status["phase"] == "Halting"


@pytest.mark.parametrize(
    ("seen", "governance"),
    [
        ({}, {}),  # not seen (yet, or deleted)
        ({"Deployment": {("other", NAME): [Seen("uid-trend", 1)]}}, {}),  # another namespace's
        (deployment_seen("uid-gone", 1), {}),  # an Engine of that name before it
        (deployment_seen("uid-trend", 1), {"runtimeStopped": True}),  # to scale to 0
        (deployment_seen("uid-trend", 0), {}),  # to scale up again
    ],
)
async def test_anything_else_gets_the_whole_reconcile(
    seen: watched.Watched, governance: dict[str, Any]
) -> None:
    with pytest.raises(Reconciled):
        await refresh_phase(ctx(), halting(**governance), seen)
