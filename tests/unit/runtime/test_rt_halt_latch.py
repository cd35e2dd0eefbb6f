"""The runtime's halt latch and its governor: a halt heard from any source holds until its own
policy lifts it; the exposure gate refuses anything that can add exposure meanwhile, and while
governance is unconfirmed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest

from engine_runtime.governance.gate import ExposureGate
from engine_runtime.governance.latch import HaltLatch
from engine_runtime.governance.obedience import Governor
from eternal_kernel.bybit.errors import OrderRefused
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderType
from eternal_kernel.model.identifiers import ClientOrderId

pytestmark = pytest.mark.unit


def directive(policy: str, sequence: int, *, halt: bool = False, **fields: Any) -> dict[str, Any]:
    return {"policy": policy, "sequence": sequence, "halt": halt, "reason": "r", **fields}


def engine(governance: dict[str, Any] | None = None, heartbeat: str | None = None,
           labels: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {}
    if governance is not None:
        status["governance"] = governance
    if heartbeat is not None:
        status["runtime"] = {"heartbeat": heartbeat}
    return {"metadata": {"name": "e1", "labels": labels or {"p": "1"}}, "status": status}


def policy(
    name: str,
    sequence: int,
    *,
    halted: bool,
    selector: dict[str, Any] | None = None,
    halted_engines: list[str] | None = None,
    **published: Any,
) -> dict[str, Any]:
    """A policy's object; `published` fields make its `status.directive` (as the operator
    publishes it: the directive without its policy's name)."""
    status: dict[str, Any] = {"halted": halted, "directiveSequence": sequence,
                              "haltReason": "crash",
                              "haltedEngines": halted_engines or []}  # fmt: skip
    if published:
        status["directive"] = {"sequence": sequence, "halt": halted, "reason": "r", **published}
    return {
        "metadata": {"name": name},
        "spec": {"selector": selector if selector is not None else {"matchLabels": {"p": "1"}}},
        "status": status,
    }


def test_a_halt_is_lifted_only_by_its_own_policy_with_a_higher_sequence() -> None:
    latch = HaltLatch()
    assert latch.hear("a", 5, halt=True, reason="emergency")
    assert not latch.hear("b", 9, halt=False, reason="")  # another policy's word
    assert not latch.hear("a", 4, halt=False, reason="")  # an older word of the same one
    assert not latch.hear("a", 5, halt=False, reason="")
    assert latch.active
    assert latch.newest() is not None
    assert latch.newest().purpose == "halt:a:5"
    assert latch.hear("a", 6, halt=False, reason="reset")
    assert not latch.active
    assert not latch.hear("a", 5, halt=True, reason="emergency")  # its record, written late
    assert not latch.active
    assert latch.hear("a", 7, halt=True, reason="again")  # a new halt of the same policy
    latch.hear("a", 8, halt=False, reason="reset")
    latch.forget("a")  # deleted: a new policy of that name counts from its own first word
    assert latch.hear("a", 1, halt=True, reason="recreated")


def test_two_halts_need_two_releases_and_a_halt_that_does_not_govern_is_ignored() -> None:
    latch = HaltLatch()
    latch.hear("a", 1, halt=True, reason="x")
    latch.hear("b", 7, halt=True, reason="y")
    assert not latch.hear("c", 3, halt=True, reason="z", governs=False)
    latch.hear("a", 2, halt=False, reason="")
    assert latch.active
    assert latch.reason() == "b: y"
    restored = HaltLatch()
    restored.load(latch.dump())
    assert restored.halts == latch.halts


def test_the_governor_keeps_a_halt_that_another_policy_s_directive_would_lift() -> None:
    g = Governor("e1")
    g.observe(engine(directive("a", 3, halt=True)))
    assert g.halted
    assert g.entries_paused
    assert g.take_halt() is not None
    g.observe(engine(directive("b", 40, halt=False, sizeMultiplier=1)))  # the forged or rival word
    assert g.halted
    assert g.entries_paused
    g.observe(engine(directive("a", 4, halt=False)))
    assert not g.halted
    assert not g.entries_paused


def test_a_policy_status_halts_before_any_directive_and_its_reset_lifts_it() -> None:
    g = Governor("e1")
    g.observe(engine(labels={"p": "1"}))
    g.observe_policy(policy("a", 2, halted=True))
    assert g.halted
    halt = g.take_halt()
    assert halt is not None
    assert halt.purpose == "halt:a:2"
    g.observe_policy(policy("a", 2, halted=False))  # same sequence: not a release
    assert g.halted
    g.observe_policy(policy("a", 3, halted=False))
    assert not g.halted


def test_a_policy_that_does_not_select_us_does_not_halt_us_unless_its_halt_reached_us() -> None:
    g = Governor("e1")
    g.observe(engine(labels={"p": "2"}))
    g.observe_policy(policy("a", 2, halted=True))
    assert not g.halted
    g.observe_policy(policy("a", 2, halted=True, halted_engines=["e1"]))  # relabelled after
    assert g.halted


def test_restore_takes_every_halt_and_older_checkpoints() -> None:
    g = Governor("e1")
    g.observe(engine(directive("a", 3, halt=True)))
    g.observe_policy(policy("b", 8, halted=True))
    saved = g.checkpoint()
    restored = Governor("e1")
    restored.restore(saved)
    assert restored.halted
    assert {h.policy for h in restored.latch.halts} == {"a", "b"}
    assert restored.take_halt() is not None  # re-asserted: the account may not be flat
    legacy = Governor("e1")
    legacy.restore(directive("a", 3, halt=True))  # a checkpoint of the directive alone
    assert legacy.halted


def test_our_own_heartbeat_echoed_confirms_governance_as_of_that_heartbeat() -> None:
    g = Governor("e1")
    beat = datetime(2026, 12, 2, 10, 0, 5, tzinfo=UTC)
    g.observe(engine(heartbeat="2026-12-02T10:00:05Z"))
    assert g.confirmed_ms == int(beat.timestamp() * 1000)
    g.observe(engine(heartbeat="2026-12-02T10:00:01Z"))  # a late event: confirms nothing new
    assert g.confirmed_ms == int(beat.timestamp() * 1000)


def order(category: Category, side: OrderSide, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(ClientOrderId("x"), "BTCUSDT", category, side, OrderType.MARKET, D("0.1"),
                        reduce_only=reduce_only)  # fmt: skip


class Clock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


async def test_the_gate_lets_closes_out_and_refuses_exposure_while_halted() -> None:
    g = Governor("e1")
    gate = ExposureGate(g, confirm=None, lease_s=5)
    await gate.check(order(Category.LINEAR, OrderSide.BUY))
    g.observe(engine(directive("a", 1, halt=True)))
    with pytest.raises(OrderRefused, match="halt in force"):
        await gate.check(order(Category.LINEAR, OrderSide.BUY))
    with pytest.raises(OrderRefused):
        await gate.check(order(Category.SPOT, OrderSide.BUY))
    await gate.check(order(Category.LINEAR, OrderSide.SELL, reduce_only=True))
    await gate.check(order(Category.SPOT, OrderSide.SELL))
    assert gate.refused == 2


async def test_past_the_lease_the_gate_asks_once_for_all_waiting_orders() -> None:
    g = Governor("e1")
    clock = Clock(1_000_000)
    calls = []

    async def confirm() -> None:
        calls.append(clock.now_ms)
        await asyncio.sleep(0.01)
        g.confirm(clock.now_ms)

    gate = ExposureGate(g, confirm=confirm, lease_s=5, clock=clock)
    g.confirm(clock.now_ms - 4000)
    await gate.check(order(Category.LINEAR, OrderSide.BUY))
    assert calls == []  # confirmed 4 s ago: within the lease
    clock.now_ms += 2000  # a freeze, or a quiet spell: 6 s without word
    await asyncio.gather(*(gate.check(order(Category.LINEAR, OrderSide.BUY)) for _ in range(5)))
    assert len(calls) == 1


async def test_a_halt_heard_while_confirming_or_no_answer_refuses_the_order() -> None:
    g = Governor("e1")
    clock = Clock(2_000_000)

    async def halted_meanwhile() -> None:
        g.observe(engine(directive("a", 9, halt=True)))
        g.confirm(clock.now_ms)

    gate = ExposureGate(g, confirm=halted_meanwhile, lease_s=5, clock=clock)
    with pytest.raises(OrderRefused, match="halt in force"):
        await gate.check(order(Category.LINEAR, OrderSide.BUY))

    async def unreachable() -> None:
        raise OSError("connection refused")

    quiet = ExposureGate(Governor("e2"), confirm=unreachable, lease_s=5, clock=clock)
    with pytest.raises(OrderRefused, match="governance unconfirmed"):
        await quiet.check(order(Category.SPOT, OrderSide.BUY))
    await quiet.check(order(Category.SPOT, OrderSide.SELL))  # a close needs no confirmation


def test_a_level_published_by_the_policy_takes_effect_before_the_engine_record() -> None:
    g = Governor("e1")
    g.observe(engine(directive("a", 2, level=0)))
    assert g.take_directive() is not None
    g.observe_policy(policy("a", 3, halted=False, level=2, sizeMultiplier="0.5",
                            entriesPaused=True))  # fmt: skip
    assert g.entries_paused
    assert g.size_multiplier == D("0.5")
    taken = g.take_directive()
    assert taken is not None
    assert (taken.policy, taken.sequence) == ("a", 3)
    g.observe(engine(directive("a", 2, level=0)))  # the record, written after, lags: no step back
    assert g.entries_paused
    assert g.take_directive() is None
    record = directive("a", 3, level=2, sizeMultiplier="0.5", entriesPaused=True,
                       conflicts=["b"])  # fmt: skip
    g.observe(engine(record))  # the same word arrives as the record: nothing new to do
    assert g.take_directive() is None
    assert g.directive.conflicts == ["b"]


def test_a_reset_published_by_the_policy_resumes_before_the_engine_record() -> None:
    g = Governor("e1")
    g.observe(engine(directive("a", 4, halt=True, level=4, entriesPaused=True)))
    assert g.halted
    g.observe_policy(policy("a", 5, halted=False, level=0))
    assert not g.halted
    assert not g.entries_paused
    taken = g.take_directive()
    assert taken is not None
    assert taken.sequence == 5
    assert not taken.halt


def test_of_several_policies_the_most_restrictive_published_word_counts() -> None:
    g = Governor("e1")
    g.observe(engine(labels={"p": "1"}))
    g.observe_policy(policy("a", 7, halted=False, level=0))
    g.observe_policy(policy("b", 2, halted=False, level=2, entriesPaused=True))
    assert g.entries_paused
    assert g.directive.policy == "b"
    outsider = policy("c", 9, halted=False, selector={"matchLabels": {"p": "2"}}, level=3,
                      sizeMultiplier="0", entriesPaused=True, closeDirectional=True)  # fmt: skip
    g.observe_policy(outsider)  # does not select us: its word is not ours
    assert g.directive.policy == "b"
    g.forget_policy(policy("b", 2, halted=False))  # deleted
    assert g.directive.policy == "a"
    assert not g.entries_paused


def test_the_strategy_is_told_the_directive_and_widened_stops() -> None:
    """Level 1's widened stops reach the strategy (TREND's ATR stop reads `stop_multiplier`);
    a halt reaches it as a halt with entries paused, whatever the directive's own fields."""
    g = Governor("e1")
    g.observe(engine(directive("a", 3, level=1, sizeMultiplier=0.75, stopMultiplier=1.5)))
    told = g.for_strategy()
    assert (told.level, told.size_multiplier, told.stop_multiplier) == (1, D("0.75"), D("1.5"))
    assert (told.entries_paused, told.halt) == (False, False)
    g.observe(engine(directive("a", 4, halt=True)))
    told = g.for_strategy()
    assert told.halt
    assert told.entries_paused
