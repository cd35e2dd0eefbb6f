"""When the operator resets an Engine's managed fields, and what it does when the Engine changed
since it was read (the API server's part, that no write tracks ownership after the reset, is
shown against a real one in tests/cluster/test_engine_managed_fields.py)."""

from __future__ import annotations

from typing import Any

import pytest

from eternal_operator.controllers.engine.managed_fields import RESET, drop_if_unused, worth_dropping
from eternal_operator.kube import Conflict, KubeError

pytestmark = pytest.mark.unit

UPDATE = {"manager": "kubectl-client-side-apply", "operation": "Update"}
APPLY = {"manager": "argocd-controller", "operation": "Apply"}


def engine(resource_version: str, *entries: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "e", "namespace": "ns", "resourceVersion": resource_version,
                         "managedFields": list(entries)}}  # fmt: skip


class Kube:
    """The API server as far as the reset goes: a write conditional on the resourceVersion."""

    def __init__(self, live: dict[str, Any]) -> None:
        self.live = live
        self.patches: list[dict[str, Any]] = []

    async def merge_patch(self, _api: str, _kind: str, _ns: str, _name: str,
                          patch: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        self.patches.append(patch)
        meta = self.live["metadata"]
        if patch["metadata"]["resourceVersion"] != meta["resourceVersion"]:
            raise Conflict(409, "the object has been modified")
        meta["managedFields"] = []
        return self.live

    async def get_or_none(self, *_: str) -> dict[str, Any] | None:
        return self.live


def test_only_tracked_ownership_that_no_server_side_applier_uses_is_worth_dropping() -> None:
    assert worth_dropping(engine("1", UPDATE)["metadata"])
    assert not worth_dropping(engine("1", UPDATE, APPLY)["metadata"])
    assert not worth_dropping(engine("1")["metadata"])  # already dropped: no write
    assert RESET == [{}]  # an empty list would not reset it


async def test_a_stale_read_is_read_again_then_dropped() -> None:
    kube = Kube(engine("7", UPDATE))
    assert await drop_if_unused(kube, engine("5", UPDATE))  # type: ignore[arg-type]
    assert [p["metadata"]["resourceVersion"] for p in kube.patches] == ["5", "7"]
    assert kube.live["metadata"]["managedFields"] == []


async def test_a_server_side_apply_that_landed_meanwhile_keeps_its_ownership() -> None:
    kube = Kube(engine("7", UPDATE, APPLY))
    assert not await drop_if_unused(kube, engine("5", UPDATE))  # type: ignore[arg-type]
    assert len(kube.patches) == 1  # the refused one; none after the fresh read
    assert kube.live["metadata"]["managedFields"] == [UPDATE, APPLY]


async def test_an_engine_gone_or_a_refusal_is_left_to_the_next_pass() -> None:
    class Refusing(Kube):
        async def merge_patch(self, *_: Any) -> dict[str, Any]:
            raise KubeError(403, "forbidden")

    assert not await drop_if_unused(Refusing(engine("1", UPDATE)), engine("1", UPDATE))  # type: ignore[arg-type]
