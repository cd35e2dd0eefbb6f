"""Leader election judges a Lease by when THIS replica saw it change (a monotonic clock), never by
comparing the holder's renewTime with the local wall clock: skewed clocks between nodes can
neither make a standby take over early nor keep it waiting forever."""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from eternal_operator.kube import Conflict, KubeClient, KubeError, NotFound
from eternal_operator.leader import LeaderElection

pytestmark = pytest.mark.unit

LEASE = 15.0
WALL = datetime(2026, 12, 3, 7, 0, 0, tzinfo=UTC)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeKube:
    """One Lease in memory with the API server's optimistic concurrency (resourceVersion)."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.fail: KubeError | None = None
        self.on_call: list[Any] = []
        self.hang = False
        self.delay = 0.0
        """Seconds every call takes to answer."""

    async def _call(self) -> None:
        for hook in self.on_call:
            hook()
        await asyncio.sleep(self.delay)
        if self.hang:
            await asyncio.Event().wait()
        if self.fail is not None:
            raise self.fail

    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.lease = stored
        return copy.deepcopy(stored)

    async def get_or_none(self, *_: Any) -> dict[str, Any] | None:
        await self._call()
        return copy.deepcopy(self.lease)

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        await self._call()
        if self.lease is not None:
            raise Conflict(409, "already exists")
        return self._store(obj)

    async def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        await self._call()
        if self.lease is None:
            raise NotFound(404, "gone")
        if obj["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise Conflict(409, "the object has been modified")
        return self._store(obj)

    async def close(self) -> None:
        pass

    def write(self, holder: str | None, renew: str, seconds: int = int(LEASE)) -> None:
        """Another replica (with its own clock) writes the Lease."""
        self._store(
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": "lease", "namespace": "ns"},
                "spec": {
                    "holderIdentity": holder,
                    "leaseDurationSeconds": seconds,
                    "renewTime": renew,
                    "acquireTime": renew,
                },
            }
        )


def spec(kube: FakeKube) -> dict[str, Any]:
    assert kube.lease is not None
    spec: dict[str, Any] = kube.lease["spec"]
    return spec


def elector(kube: FakeKube, clock: Clock, identity: str = "b") -> LeaderElection:
    return LeaderElection(
        kube=cast(KubeClient, kube),
        namespace="ns",
        name="lease",
        identity=identity,
        lease_seconds=LEASE,
        clock=lambda: WALL,
        monotonic=clock,
    )


PAST = "2001-01-01T00:00:00.000000Z"  # the holder's clock is 25 years behind ours
FUTURE = "2099-01-01T00:00:00.000000Z"  # ... or 73 years ahead


@pytest.mark.parametrize("renew", [PAST, FUTURE], ids=["renewTime-past", "renewTime-future"])
async def test_a_renewing_holder_keeps_the_lease_whatever_its_renew_time_says(renew: str) -> None:
    kube, clock = FakeKube(), Clock()
    kube.write("a", renew)
    standby = elector(kube, clock)
    for _ in range(10):  # 10 renewals, 5 s apart: 50 s, far beyond one Lease duration
        assert not await standby.try_acquire()
        clock.advance(5)
        kube.write("a", renew)  # the holder renews; its skewed renewTime may not even move
    assert not await standby.try_acquire()
    assert spec(kube)["holderIdentity"] == "a"
    assert standby.holder == "a"


@pytest.mark.parametrize("renew", [PAST, FUTURE], ids=["renewTime-past", "renewTime-future"])
async def test_a_lease_that_stops_changing_is_taken_over_after_its_duration(renew: str) -> None:
    kube, clock = FakeKube(), Clock()
    kube.write("a", renew)
    standby = elector(kube, clock)
    assert not await standby.try_acquire()  # first seen now: the clock starts here
    clock.advance(LEASE - 0.01)
    assert not await standby.try_acquire()  # unchanged, but not for a whole duration yet
    clock.advance(0.02)
    assert await standby.try_acquire()
    assert kube.lease is not None
    spec = kube.lease["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["renewTime"] == "2026-12-03T07:00:00.000000Z"  # our wall clock, for people
    assert spec["leaseTransitions"] == 1


async def test_every_change_of_the_record_restarts_the_wait() -> None:
    kube, clock = FakeKube(), Clock()
    kube.write("a", PAST)
    standby = elector(kube, clock)
    assert not await standby.try_acquire()
    clock.advance(10)
    assert kube.lease is not None
    kube.lease["metadata"]["resourceVersion"] = "changed"  # any write counts as a sign of life
    assert not await standby.try_acquire()
    clock.advance(10)  # 20 s since first seen, 10 s since the change
    assert not await standby.try_acquire()
    clock.advance(5.01)
    assert await standby.try_acquire()


async def test_the_holders_own_lease_duration_is_the_one_waited_for() -> None:
    kube, clock = FakeKube(), Clock()
    kube.write("a", PAST, seconds=40)
    standby = elector(kube, clock)
    assert not await standby.try_acquire()
    clock.advance(39.9)
    assert not await standby.try_acquire()
    clock.advance(0.2)
    assert await standby.try_acquire()


async def test_a_released_lease_is_taken_at_once() -> None:
    kube, clock = FakeKube(), Clock()
    kube.write(None, FUTURE, seconds=1)
    assert await elector(kube, clock).try_acquire()


async def test_a_missing_lease_is_created() -> None:
    kube, clock = FakeKube(), Clock()
    candidate = elector(kube, clock)
    assert await candidate.try_acquire()
    assert spec(kube)["holderIdentity"] == "b"
    assert candidate.renewed_at == clock.now
    assert candidate.holder == "b"


async def test_the_holder_renews_its_own_lease_at_once() -> None:
    kube, clock = FakeKube(), Clock()
    leader = elector(kube, clock, identity="a")
    assert await leader.try_acquire()
    clock.advance(5)
    assert await leader.try_acquire()
    assert spec(kube)["leaseTransitions"] == 0


async def test_two_candidates_never_both_win_an_expired_lease() -> None:
    kube, clock = FakeKube(), Clock()
    kube.write("a", PAST)
    b, c = elector(kube, clock, "b"), elector(kube, clock, "c")
    assert not await b.try_acquire()
    assert not await c.try_acquire()
    clock.advance(LEASE + 1)
    stale = copy.deepcopy(kube.lease)
    assert await b.try_acquire()

    async def read_before_b_wrote(*_: Any) -> dict[str, Any] | None:
        return copy.deepcopy(stale)

    kube.get_or_none = read_before_b_wrote  # type: ignore[method-assign]
    assert not await c.try_acquire()  # its replace carries the old resourceVersion: Conflict
    assert spec(kube)["holderIdentity"] == "b"


async def test_a_standby_judges_the_new_holder_afresh() -> None:
    kube, clock = FakeKube(), Clock()
    kube.write("a", PAST)
    standby = elector(kube, clock, "c")
    assert not await standby.try_acquire()
    clock.advance(LEASE - 1)
    kube.write("b", PAST)  # b took over (with the same skewed clock): a new record
    assert not await standby.try_acquire()
    clock.advance(LEASE - 1)
    assert not await standby.try_acquire()
    assert standby.holder == "b"


async def test_the_leader_stops_before_its_lease_can_expire_for_anyone_else() -> None:
    kube, clock = FakeKube(), Clock()
    leader = LeaderElection(
        kube=cast(KubeClient, kube),
        namespace="ns",
        name="lease",
        identity="a",
        lease_seconds=0.3,  # the pauses between renewals are real: keep them short
        clock=lambda: WALL,
        monotonic=clock,
    )
    assert await leader.try_acquire()
    won = clock.now
    kube.fail = KubeError(0, "connection refused")
    kube.on_call.append(lambda: clock.advance(0.08))  # every failed call takes 80 ms
    stop = asyncio.Event()
    await asyncio.wait_for(leader.keep(stop), timeout=5)
    assert leader.lost
    assert stop.is_set()
    assert not leader.leading
    # It gave up past its renew deadline (2/3 of the Lease) but before anyone else could take
    # over: a standby waits a whole Lease from the last change it saw, which is after `won`.
    assert won + 0.3 * 2 / 3 <= clock.now < won + 0.3


async def test_a_renewal_that_never_answers_is_bounded_by_the_renew_deadline() -> None:
    kube = FakeKube()
    leader = LeaderElection(
        kube=cast(KubeClient, kube),
        namespace="ns",
        name="lease",
        identity="a",
        lease_seconds=0.3,
        clock=lambda: WALL,
    )
    assert await leader.try_acquire()
    won = time.monotonic()
    kube.hang = True
    stop = asyncio.Event()
    await asyncio.wait_for(leader.keep(stop), timeout=5)
    assert leader.lost
    assert time.monotonic() - won < 0.3  # stopped within the Lease it last wrote


async def test_the_leader_keeps_renewing_while_the_api_server_answers() -> None:
    kube, clock = FakeKube(), Clock()
    leader = LeaderElection(
        kube=cast(KubeClient, kube),
        namespace="ns",
        name="lease",
        identity="a",
        lease_seconds=0.3,
        clock=lambda: WALL,
        monotonic=clock,
    )
    assert await leader.try_acquire()
    calls: list[int] = []
    three_renewals = asyncio.Event()

    def count() -> None:
        calls.append(kube.version)
        if len(calls) == 6:  # each renewal is a GET and a PUT
            three_renewals.set()

    kube.on_call.append(count)
    stop = asyncio.Event()
    keeper = asyncio.create_task(leader.keep(stop))
    await asyncio.wait_for(three_renewals.wait(), timeout=5)
    stop.set()
    await keeper
    assert not leader.lost
    assert kube.version == 4  # created once, renewed three times
    assert spec(kube)["holderIdentity"] == "a"


def short_lease_leader(kube: FakeKube) -> LeaderElection:
    """A 0.3 s Lease on the real monotonic clock: its renewals really wait."""
    return LeaderElection(
        kube=cast(KubeClient, kube), namespace="ns", name="lease", identity="a",
        lease_seconds=0.3, clock=lambda: WALL,
    )  # fmt: skip


async def test_a_blocked_operator_loop_does_not_cost_the_leader_its_lease() -> None:
    """The renewals go out from a thread of their own: with the operator's loop blocked for
    three Leases (a burst of work), the leader renews all along and still leads after. With the
    renewals on the operator's loop, none would go out and the leader would step down."""
    kube = FakeKube()
    leader = short_lease_leader(kube)
    assert await leader.try_acquire()
    stop = asyncio.Event()
    keeper = asyncio.create_task(leader.keep_apart(stop, cast(KubeClient, kube)))
    await asyncio.sleep(0.05)  # the thread is started
    before = kube.version
    time.sleep(0.9)  # the operator's loop blocked  # noqa: ASYNC251
    renewed = kube.version - before
    assert not leader.lost
    assert not stop.is_set()
    stop.set()
    await asyncio.wait_for(keeper, timeout=5)
    assert renewed >= 4  # every 0.1 s, while the loop was blocked
    assert not leader.lost
    assert spec(kube)["holderIdentity"] == "a"


async def test_a_lease_lost_on_the_renewal_thread_stops_the_operator() -> None:
    kube = FakeKube()
    leader = short_lease_leader(kube)
    assert await leader.try_acquire()
    kube.fail = KubeError(0, "connection refused")
    stop = asyncio.Event()
    await asyncio.wait_for(leader.keep_apart(stop, cast(KubeClient, kube)), timeout=5)
    assert stop.is_set()
    assert leader.lost
    assert not leader.leading


async def test_a_slow_api_server_does_not_cost_the_leader_its_lease() -> None:
    """Every call answered after 35 ms, a renewal (a GET and a PUT) after 70 ms, against a
    deadline of 200 ms: the renewals follow each other, each from the last one's start, and
    the leader keeps the Lease (renewing a third of the Lease after the last renewal ENDED, it
    would start 170 ms after the last success and end past the deadline)."""
    kube = FakeKube()
    leader = short_lease_leader(kube)
    assert await leader.try_acquire()
    kube.delay = 0.035
    ten_renewals = asyncio.Event()
    kube.on_call.append(lambda: kube.version >= 11 and ten_renewals.set())
    stop = asyncio.Event()
    keeper = asyncio.create_task(leader.keep(stop))
    renewed = asyncio.create_task(ten_renewals.wait())
    await asyncio.wait({keeper, renewed}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    await asyncio.wait_for(keeper, timeout=5)
    renewed.cancel()
    assert not leader.lost  # it kept renewing rather than step down
    assert kube.version >= 11  # ten renewals after the first write
