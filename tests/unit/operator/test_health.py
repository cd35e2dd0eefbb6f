"""The operator's health endpoints answer from process start, leader or standby: liveness is
"the election loop is alive", readiness "the Lease was heard of recently", /leader the role."""

from __future__ import annotations

import json
from typing import cast

import pytest
from aiohttp.test_utils import make_mocked_request

from eternal_operator.health import Health, HealthServer
from eternal_operator.kube import KubeClient
from eternal_operator.leader import LeaderElection, Observation

pytestmark = pytest.mark.unit

LEASE = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def setup(leading: bool = False) -> tuple[LeaderElection, Clock, HealthServer]:
    clock = Clock()
    elector = LeaderElection(
        kube=cast(KubeClient, None),
        namespace="ns",
        name="lease",
        identity="b",
        lease_seconds=LEASE,
        monotonic=clock,
    )
    elector.leading = leading
    return elector, clock, HealthServer(Health(elector, monotonic=clock), port=0)


async def get(server: HealthServer, path: str) -> tuple[int, dict[str, object]]:
    app = server.app()
    request = make_mocked_request("GET", path, app=app)
    match = await app.router.resolve(request)
    response = await match.handler(request)
    assert response.body is not None
    return response.status, json.loads(cast(bytes, response.body))


async def test_a_fresh_standby_is_alive_but_not_ready_until_it_has_read_the_lease() -> None:
    elector, clock, server = setup()
    assert (await get(server, "/healthz"))[0] == 200
    status, body = await get(server, "/readyz")
    assert status == 503
    assert body["reason"] == "the Lease has not been read yet"
    elector.contacted_at = clock.now
    elector.observed = Observation(record=("1", ""), holder="a", lease_seconds=LEASE, at=clock.now)
    status, body = await get(server, "/readyz")
    assert status == 200
    assert body["role"] == "standby"
    assert body["holder"] == "a"
    assert (await get(server, "/leader"))[0] == 503


async def test_the_leader_says_so() -> None:
    elector, clock, server = setup(leading=True)
    elector.contacted_at = clock.now
    assert (await get(server, "/readyz"))[0] == 200
    status, body = await get(server, "/leader")
    assert status == 200
    assert body == {"ok": True, "identity": "b", "role": "leader", "holder": None}


async def test_a_replica_that_cannot_reach_the_api_server_is_not_ready_but_alive() -> None:
    elector, clock, server = setup()
    elector.contacted_at = clock.now
    clock.now += LEASE  # no answer about the Lease for a whole Lease duration
    elector.ticked_at = clock.now  # the loop itself still goes round (and fails)
    assert (await get(server, "/readyz"))[0] == 503
    assert (await get(server, "/healthz"))[0] == 200


async def test_a_stuck_election_loop_fails_liveness() -> None:
    elector, clock, server = setup()
    clock.now = elector.ticked_at + 3 * LEASE - 0.1
    assert (await get(server, "/healthz"))[0] == 200
    clock.now += 0.2
    status, body = await get(server, "/healthz")
    assert status == 503
    assert body["electionLoopSilentSeconds"] == pytest.approx(3 * LEASE + 0.1)


async def test_without_leader_election_every_endpoint_answers_ok() -> None:
    server = HealthServer(Health(None), port=0)
    for path in ("/healthz", "/readyz", "/leader"):
        status, body = await get(server, path)
        assert status == 200, path
        assert body["leaderElection"] is False
