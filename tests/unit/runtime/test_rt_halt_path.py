"""The halt path's parts with their real collaborators (governor, exposure gate, order manager,
flattener, error registry) over an in-memory account: obey carries out a halt and keeps it until
its own policy lifts it; the flattener retries what a thin book left and reports the residue."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from decimal import Decimal as D
from typing import Any

import pytest

from engine_runtime.app.obey import Obedience, obey, report_on_final
from engine_runtime.execution.flattener import Flattener
from engine_runtime.execution.manager import OrderManager
from engine_runtime.governance.gate import ExposureGate
from engine_runtime.governance.obedience import Governor
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.errors import ErrorRegistry
from engine_runtime.reporting.metrics import Metrics
from eternal_kernel.bybit.errors import OrderRefused
from eternal_kernel.bybit.flatten import Attempts, VenueCloser, flatten_account
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderType
from eternal_kernel.model.identifiers import ClientOrderId
from eternal_kernel.model.instruments import Instrument
from support.memory_venue import MemoryStore, MemoryVenue

pytestmark = pytest.mark.unit

INSTRUMENTS = {
    ("BTCUSDT", Category.LINEAR): Instrument("BTCUSDT", Category.LINEAR, "BTC", "USDT", D("0.1"),
                                             D("0.001"), D("0.001"), D("100"), D("5")),
    ("BTCUSDT", Category.SPOT): Instrument("BTCUSDT", Category.SPOT, "BTC", "USDT", D("0.01"),
                                           D("0.000001"), D("0.000048"), D("100"), D("5")),
}  # fmt: skip
BUY = OrderRequest(ClientOrderId("ee-buy"), "BTCUSDT", Category.LINEAR, OrderSide.BUY,
                   OrderType.MARKET, D("0.001"))  # fmt: skip


def engine(policy: str, sequence: int, *, halt: bool) -> dict[str, Any]:
    directive = {"policy": policy, "sequence": sequence, "halt": halt, "reason": "r"}
    return {"metadata": {"name": "e1", "labels": {"p": "1"}},
            "status": {"governance": directive}}  # fmt: skip


def account() -> MemoryVenue:
    """A long perp and a coin dust below the spot market's minimum order."""
    venue = MemoryVenue(INSTRUMENTS)
    venue.prices["BTCUSDT"] = D("60000")
    venue.longs["BTCUSDT"] = D("0.010")
    venue.coins["BTC"] = D("0.00001")
    return venue


class Runtime:
    """The runtime's parts obey is handed, built as `Runtime.start` builds them."""

    def __init__(self, venue: MemoryVenue, *, rounds: int = 6) -> None:
        self.venue = venue
        self.governor = Governor("e1")
        self.errors = ErrorRegistry()
        self.store = MemoryStore()
        self.manager = OrderManager(venue, self.store, Portfolio(), Metrics(), self.errors)  # type: ignore[arg-type]
        self.gate = ExposureGate(self.governor, confirm=None, lease_s=5)
        self.manager.gate = self.gate.check
        self.flattener = Flattener(venue, self.manager, "uid-1", INSTRUMENTS, rounds=rounds)  # type: ignore[arg-type]
        self.events: list[tuple[str, int | None]] = []
        self.published: list[str] = []
        self.resyncs: list[str] = []
        self.checkpoints = 0
        self.tasks: list[asyncio.Task[Any]] = []
        self.hands = Obedience(
            governor=self.governor, flattener=self.flattener, cancel_all=self.manager.cancel_all,
            resync=self.resync, save_checkpoint=self.checkpoint, governance_event=self.event,
            publish_event=self.publish, errors=self.errors, report_now=asyncio.Event(),
            spawn=self.spawn, retry_s=0, resync_after_s=0,
        )  # fmt: skip

    async def resync(self, why: str) -> None:
        self.resyncs.append(why)

    async def checkpoint(self) -> None:
        self.checkpoints += 1

    async def event(self, kind: str, sequence: int | None, detail: dict[str, Any]) -> None:
        self.events.append((kind, sequence))

    async def publish(self, kind: str, detail: dict[str, Any]) -> None:
        self.published.append(kind)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(coro))

    async def obey(self) -> None:
        """One pass of the governance loop, and what it left running."""
        self.hands.report_now.clear()
        self.governor.wake.clear()
        await obey(self.hands)
        while self.tasks:
            await self.tasks.pop(0)


async def test_a_halt_directive_latches_and_flattens_the_account() -> None:
    rt = Runtime(account())
    rt.governor.observe(engine("a", 3, halt=True))
    await rt.obey()
    assert rt.venue.longs["BTCUSDT"] == 0
    assert [o.reduce_only for o in rt.venue.sent] == [True]
    assert (rt.governor.halted, rt.governor.flat) == (True, True)
    assert rt.governor.residue == ["0.00001 BTC (below BTCUSDT's minimum order of 0.000048)"]
    assert rt.events == [("halt-flat", 3), ("directive", 3)]  # the account before the record
    assert rt.governor.applied_sequence == 3
    assert rt.hands.report_now.is_set()
    assert rt.resyncs == ["halt"]
    assert rt.checkpoints >= 1
    assert rt.errors.current() is None
    with pytest.raises(OrderRefused, match="halt in force"):
        await rt.gate.check(BUY)  # latched: nothing that adds exposure goes out


class CountedEvent(asyncio.Event):
    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


async def test_a_halt_reports_once_flat_not_for_each_order_it_ends() -> None:
    rt = Runtime(account())
    rt.hands.report_now = trigger = CountedEvent()
    order_ended = report_on_final(rt.governor, trigger)  # as the runtime wires its manager
    order_ended(object())
    assert trigger.sets == 1  # trading: an order's end is reported at once
    rt.governor.observe(engine("a", 3, halt=True))
    order_ended(object())  # the halt heard, its flatten not done: the stream says an order
    order_ended(object())  # was cancelled, another filled
    assert trigger.sets == 1
    await rt.obey()
    assert rt.governor.flat is True
    assert trigger.sets == 2  # the one report of the halt: its own, once flat
    order_ended(object())
    assert trigger.sets == 3  # flat and halted: an order's end is reported at once again


def halted_policy(sequence: int) -> dict[str, Any]:
    """Policy `a` as its status says a halt, before the operator writes the Engine's record."""
    directive = {"sequence": sequence, "level": 4, "sizeMultiplier": 0, "entriesPaused": True,
                 "closeDirectional": True, "halt": True, "reason": "emergency halt"}  # fmt: skip
    return {"metadata": {"name": "a"}, "spec": {"selector": {"matchLabels": {"p": "1"}}},
            "status": {"halted": True, "directiveSequence": sequence, "haltReason": "emergency",
                       "directive": directive}}  # fmt: skip


async def test_a_halt_heard_before_its_record_is_reported_once_the_record_is_in() -> None:
    rt = Runtime(account())
    rt.governor.observe(engine("a", 2, halt=False))  # trading, under policy a
    rt.hands.report_now = trigger = CountedEvent()
    order_ended = report_on_final(rt.governor, trigger)
    rt.governor.observe_policy(halted_policy(3))
    rt.governor.wake.clear()
    await obey(rt.hands)  # carried out at once, from the policy's word
    assert (rt.governor.halted, rt.governor.flat) == (True, True)
    assert rt.venue.longs["BTCUSDT"] == 0
    [waiting] = [t for t in rt.tasks if "_await_record" in repr(t.get_coro())]
    await asyncio.gather(*(t for t in rt.tasks if t is not waiting))  # the resync, the event
    assert not waiting.done()
    order_ended(object())  # the flatten's close, confirmed by the stream meanwhile
    assert trigger.sets == 0  # no report before the record: a fleet's records go first
    rt.governor.observe(engine("a", 3, halt=True))  # the operator's record of the halt
    await waiting
    assert trigger.sets == 1
    assert rt.governor.applied_sequence == 3
    order_ended(object())
    assert trigger.sets == 2  # reported: an order's end is reported at once again


async def test_a_halt_whose_record_does_not_come_is_reported_all_the_same() -> None:
    rt = Runtime(account())
    rt.hands.record_wait_s = 0  # no operator writes the record
    rt.governor.observe(engine("a", 2, halt=False))
    rt.governor.observe_policy(halted_policy(3))
    await rt.obey()
    assert rt.hands.report_now.is_set()
    assert (rt.governor.flat, rt.governor.awaiting_record) == (True, False)


async def test_a_halt_is_reported_once_its_policy_has_written_the_fleet_s_records() -> None:
    """The Engine's own record is not enough while its policy's status says the records of the
    halt are still going out: a report now would reach the API server among them."""
    rt = Runtime(account())
    rt.governor.observe(engine("a", 2, halt=False))
    rt.hands.report_now = trigger = CountedEvent()
    policy = halted_policy(3)
    policy["status"]["recordedSequence"] = 2  # the records of the word before are all in
    rt.governor.observe_policy(policy)
    rt.governor.wake.clear()
    await obey(rt.hands)
    [waiting] = [t for t in rt.tasks if "_await_record" in repr(t.get_coro())]
    rt.governor.observe(engine("a", 3, halt=True))  # this Engine's record, among the fleet's
    await asyncio.sleep(0)
    assert (trigger.sets, waiting.done()) == (0, False)
    policy["status"]["recordedSequence"] = 3  # every record of the halt written
    rt.governor.observe_policy(policy)
    await waiting
    assert trigger.sets == 1
    assert rt.governor.applied_sequence == 3


def lifted_policy(sequence: int) -> dict[str, Any]:
    """Policy `a` as its status says after a reset, before the operator writes the record."""
    directive = {"sequence": sequence, "level": 0, "sizeMultiplier": 1, "halt": False,
                 "reason": "reset"}  # fmt: skip
    return {"metadata": {"name": "a"}, "spec": {"selector": {"matchLabels": {"p": "1"}}},
            "status": {"halted": False, "directiveSequence": sequence,
                       "directive": directive}}  # fmt: skip


async def test_a_resume_heard_before_its_record_is_reported_once_the_record_is_in() -> None:
    """Reported first, a resume would show the halt's record beside a report of a newer word:
    the Engine Halting again until its record comes (a status write and an Event each)."""
    rt = Runtime(account())
    rt.governor.observe(engine("a", 3, halt=True))
    await rt.obey()
    rt.hands.report_now = trigger = CountedEvent()
    rt.governor.observe_policy(lifted_policy(4))
    rt.governor.wake.clear()
    await obey(rt.hands)
    assert not rt.governor.halted  # lifted at once, from the policy's word
    assert rt.governor.applied_sequence == 4
    [waiting] = [t for t in rt.tasks if "_await_record" in repr(t.get_coro())]
    await asyncio.sleep(0)
    assert (trigger.sets, waiting.done()) == (0, False)  # the record goes first
    assert rt.governor.reported_sequence == 3  # and a heartbeat meanwhile shows the halt's word
    rt.governor.observe(engine("a", 4, halt=False))  # the operator's record of the resume
    await waiting
    assert (trigger.sets, rt.governor.reported_sequence) == (1, 4)
    rt.governor.observe_policy(lifted_policy(5))  # a word the record already has: at once
    rt.governor.observe(engine("a", 5, halt=False))
    await obey(rt.hands)
    assert rt.governor.reported_sequence == 5  # nothing held back
    await asyncio.gather(*rt.tasks)
    assert trigger.sets == 2


async def test_words_heard_in_a_row_before_their_records_are_reported_with_the_newest() -> None:
    rt = Runtime(account())
    rt.governor.observe(engine("a", 3, halt=True))
    await rt.obey()
    rt.hands.report_now = trigger = CountedEvent()
    for sequence in (4, 5):  # the reset, then the next evaluation's word, before either record
        rt.governor.observe_policy(lifted_policy(sequence))
        await obey(rt.hands)
    assert (rt.governor.applied_sequence, rt.governor.reported_sequence) == (5, 3)
    [waiting] = [t for t in rt.tasks if "_await_record" in repr(t.get_coro())]  # one wait
    rt.governor.observe(engine("a", 4, halt=False))
    await asyncio.sleep(0)
    assert (trigger.sets, waiting.done()) == (0, False)  # 5 is not in the record yet
    rt.governor.observe(engine("a", 5, halt=False))
    await waiting
    assert (trigger.sets, rt.governor.reported_sequence) == (1, 5)


async def test_a_resume_from_its_own_policy_lifts_the_halt() -> None:
    rt = Runtime(account())
    rt.governor.observe(engine("a", 3, halt=True))
    await rt.obey()
    rt.governor.observe(engine("a", 4, halt=False))
    await rt.obey()
    assert not rt.governor.halted
    assert rt.governor.applied_sequence == 4
    assert rt.events[-1] == ("directive", 4)
    await rt.gate.check(BUY)  # trading again
    assert len(rt.venue.sent) == 1  # a resume sends nothing


async def test_a_directive_from_another_policy_does_not_lift_the_halt() -> None:
    rt = Runtime(account())
    rt.governor.observe(engine("a", 3, halt=True))
    await rt.obey()
    rt.governor.observe(engine("b", 40, halt=False))
    await rt.obey()
    assert rt.governor.halted
    assert rt.governor.for_strategy().halt
    with pytest.raises(OrderRefused, match="halt in force"):
        await rt.gate.check(BUY)


async def test_a_halt_not_flat_yet_is_the_error_in_force_and_is_retried_until_flat() -> None:
    venue = account()
    venue.fill_cap = D(0)  # no liquidity: the close rests unfilled
    rt = Runtime(venue, rounds=2)
    rt.governor.observe(engine("a", 3, halt=True))
    await rt.obey()
    assert rt.governor.flat is False
    assert rt.events[0] == ("halt-not-flat", 3)
    assert rt.errors.current() == "halt: not flat yet: Sell 0.010 BTCUSDT linear; residue: " + (
        "0.00001 BTC (below BTCUSDT's minimum order of 0.000048)"
    )
    assert rt.governor.wake.is_set()  # the retry asked for another pass
    venue.fill_cap = None
    await rt.obey()
    assert (rt.venue.longs["BTCUSDT"], rt.governor.flat) == (0, True)
    assert len({o.client_order_id for o in venue.sent}) == len(venue.sent)  # fresh ids on retry
    assert rt.errors.current() is None  # cleared by the halt that got flat


async def test_a_flatten_retries_what_a_thin_book_left_and_reports_the_residue() -> None:
    venue = account()
    venue.fill_cap = D("0.006")  # the first close fills 0.006 of 0.010
    rt = Runtime(venue)
    result = await rt.flattener.flatten("halt:a:3")
    assert result.flat
    assert [(o.qty, o.reduce_only) for o in venue.sent] == [(D("0.010"), True), (D("0.004"), True)]
    first, second = (o.client_order_id for o in venue.sent)
    assert first != second  # what is left is another close, with its own id
    assert set(rt.store.rows) == {first, second}  # each recorded before it was sent
    assert {o.intent_id for o in rt.store.rows.values()} == {"halt:a:3:BTCUSDT"}
    assert result.residue == ["0.00001 BTC (below BTCUSDT's minimum order of 0.000048)"]
    assert "residue: 0.00001 BTC" in result.summary()


async def test_the_operator_s_retried_flatten_sends_fresh_ids_and_its_first_the_runtime_s() -> None:
    """The operator's path (`VenueCloser`, its own `Attempts`): a retry goes on counting; its
    first try of a purpose plans the same closes as the runtime's first."""
    venue = account()
    venue.fill_cap = D(0)
    runtime = Runtime(venue, rounds=1)
    await runtime.flattener.flatten("halt:a:3")
    attempts = Attempts()
    first = await flatten_account(venue, VenueCloser(venue), engine="uid-1", purpose="halt:a:3",  # type: ignore[arg-type]
                                  rounds=1, attempts=attempts)  # fmt: skip
    assert not first.flat
    assert len(venue.sent) == 1  # the runtime's close, refused as a duplicate when resent
    venue.fill_cap = None
    again = await flatten_account(venue, VenueCloser(venue), engine="uid-1", purpose="halt:a:3",  # type: ignore[arg-type]
                                  attempts=attempts)  # fmt: skip
    assert again.flat
    assert len(venue.sent) == 2
    assert venue.longs["BTCUSDT"] == 0
    assert attempts.first("uid-1", "halt:a:3") == 0  # forgotten once flat
