"""Carrying out what governance and the operator asked (the flags are already in force).

A directive is persisted and recorded first, then acted on; but a halt (from the directive or
from a policy's status, whichever is heard first) is carried out before anything is recorded:
it cancels everything and flattens the whole account until the venue shows it flat (the
checkpoint saved meanwhile). Close-directional closes the linear positions. The applied
sequence is reported at once, or for these two once carried out (one status write per engine
instead of two, when a whole fleet halts together); a halt, a resume or any directive heard
from its policy before the Engine's own record of it is reported once that record is in and
the policy's status says the whole fleet's records of it are written (`recordedSequence`;
`record_wait_s` at the latest), so that a fleet's records, which carry each Engine's phase,
reach the API server before its reports rather than among them, and a report never shows a
word the record does not have yet (a resume reported first would turn a Halted Engine back to
Halting until its record comes; a heartbeat meanwhile shows the word before it:
`Governor.reported_sequence`). A shutdown (or suspend) cancels all open orders, flattens if
asked, and answers with `shutdownDoneAt`.

It is handed what it uses (`Obedience`), not the runtime: the governor, the flattener, the
order manager's cancel-all, the resync, the checkpoint, the two records, the error registry
(only its `halt` and `shutdown` sources are written here) and the report trigger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from engine_runtime.governance.latch import Halt
from engine_runtime.governance.obedience import Governor
from engine_runtime.reporting.errors import ErrorRegistry, ErrorSource
from eternal_kernel.api.v1alpha1.engine import GovernanceDirective
from eternal_kernel.bybit.errors import VenueError
from eternal_kernel.bybit.flatten import FlattenResult

log = logging.getLogger(__name__)
RETRY_S = 2.0
RESYNC_AFTER_S = 2.0
RECORD_WAIT_S = 2.0
"""The longest a directive applied waits for the Engine's own record (and the fleet's) before it
is reported: an operator that is not there to write records delays the report by this much, no
more."""


class Flatten(Protocol):
    """The runtime's flatten (`execution.flattener.Flattener`)."""

    async def flatten(self, purpose: str, *, directional_only: bool = False) -> FlattenResult: ...


@dataclass
class Obedience:
    """What carrying out governance's word takes, and nothing else of the runtime."""

    governor: Governor
    flattener: Flatten
    cancel_all: Callable[[], Coroutine[Any, Any, int]]
    """Cancel every open order (a shutdown that does not flatten)."""
    resync: Callable[[str], Coroutine[Any, Any, None]]
    """The REST resync of orders, fills, positions and wallet, after a halt, close or shutdown."""
    save_checkpoint: Callable[[], Coroutine[Any, Any, None]]
    governance_event: Callable[[str, int | None, dict[str, Any]], Coroutine[Any, Any, None]]
    """A row of the engine's governance history (PostgreSQL)."""
    publish_event: Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]
    """An event on the engine's Redis stream (best effort)."""
    errors: ErrorRegistry
    """Where the halt's and the shutdown's errors are set and cleared (their sources only)."""
    report_now: asyncio.Event
    spawn: Callable[[Coroutine[Any, Any, Any]], None]
    retry_s: float = RETRY_S
    resync_after_s: float = RESYNC_AFTER_S
    record_wait_s: float = RECORD_WAIT_S


def report_on_final(governor: Governor, report_now: asyncio.Event) -> Callable[[object], None]:
    """The order manager's callback for an order filled, cancelled or rejected: it shows in the
    report at once, but not while a halt is being carried out or its report waits for the
    record, the halt's own report following (one status write per engine of a fleet halting
    together, not one more for each order the halt cancels or closes)."""

    def on_final(_order: object) -> None:
        if not governor.reports_held:
            report_now.set()

    return on_final


async def obey(ob: Obedience) -> None:
    governor = ob.governor
    if governor.take_shutdown():
        await _shutdown(ob)
    directive = governor.take_directive()
    halt = governor.take_halt()
    if halt is not None:
        await _halt(ob, halt)  # the account first: the directive's record can wait
    before = governor.applied_sequence
    if directive is not None:
        await _record(ob, directive)
    if halt is not None:  # applied once carried out (flat, or not)
        _report_once_recorded(ob, lambda record: record.halt)
    elif directive is not None and directive.close_directional and not governor.halted:
        await _close_directional(ob, directive)
    elif directive is not None:  # nothing to carry out: applied now
        _report_once_recorded(ob, lambda record: shows(record, directive))
        if not governor.record_shows_awaited():
            governor.hold_report(before)  # a heartbeat meanwhile shows the word before it


def shows(record: GovernanceDirective, directive: GovernanceDirective) -> bool:
    """The Engine's own record carries `directive` (or a newer word of its policy)."""
    return record.policy == directive.policy and record.sequence >= directive.sequence


async def _record(ob: Obedience, directive: GovernanceDirective) -> None:
    detail = directive.model_dump(mode="json", by_alias=True)
    await ob.save_checkpoint()
    await ob.governance_event("directive", directive.sequence, detail)
    ob.spawn(ob.publish_event("directive", detail))  # best effort: a stuck Redis waits aside
    ob.governor.mark_applied(directive)
    if not ob.governor.halted:
        ob.errors.clear(ErrorSource.HALT)  # no halt in force: its "not flat yet" is moot
    issued = directive.issued_at
    since_issued_ms = (datetime.now(UTC) - issued).total_seconds() * 1000 if issued else None
    log.info(
        "directive applied",
        extra={
            "sequence": directive.sequence,
            "policy": directive.policy,
            "breaker_level": directive.level,
            "halt": directive.halt,
            "since_issued_ms": since_issued_ms,
        },
    )


async def _halt(ob: Obedience, halt: Halt) -> None:
    governor = ob.governor
    # The halt survives a crash before it is carried out: checkpointed while the flatten starts.
    saved = asyncio.create_task(ob.save_checkpoint())
    try:
        result = await ob.flattener.flatten(halt.purpose)
    except VenueError as error:
        ob.errors.set(ErrorSource.HALT, str(error))
        ob.spawn(_retry_halt_later(ob))
        ob.report_now.set()
        return
    finally:
        await saved
    governor.flat = result.flat
    governor.residue = result.residue
    await ob.governance_event(
        "halt-flat" if result.flat else "halt-not-flat",
        halt.sequence,
        {"policy": halt.policy, "result": result.summary(), "residue": result.residue},
    )
    if result.flat:
        ob.errors.clear(ErrorSource.HALT)
    else:
        ob.errors.set(ErrorSource.HALT, f"not flat yet: {result.plan.describe()}")
        ob.spawn(_retry_halt_later(ob))
    ob.spawn(_resync_soon(ob, "halt"))


def _report_once_recorded(ob: Obedience, shown: Callable[[GovernanceDirective], bool]) -> None:
    """Report what was applied once the Engine's own record shows it (`shown`) and its policy
    has written the fleet's records (`Governor.record_shows_awaited`): at once when so; else when
    they come, or after `record_wait_s`. A wait under way goes on, for the newer word (a halt's
    retry: the report waiting says how it went)."""
    governor = ob.governor
    waiting = governor.awaiting_record
    governor.awaited = shown
    if waiting:
        governor.recorded.set()  # the wait under way looks again, for this word
    else:
        ob.spawn(_await_record(ob))


async def _await_record(ob: Obedience) -> None:
    governor = ob.governor
    try:
        async with asyncio.timeout(ob.record_wait_s):
            while not governor.record_shows_awaited():
                governor.recorded.clear()
                await governor.recorded.wait()
    except TimeoutError:
        log.info("reported without its record", extra={"waited_s": ob.record_wait_s})
    finally:
        governor.awaited = None
        governor.release_report()
    ob.report_now.set()


async def _close_directional(ob: Obedience, directive: GovernanceDirective) -> None:
    purpose = f"close:{directive.policy or ''}:{directive.sequence}"
    try:
        await ob.flattener.flatten(purpose, directional_only=True)
    except VenueError as error:
        ob.errors.set(ErrorSource.HALT, f"close directional: {error}")
        ob.spawn(_retry_directive_later(ob, directive))
    ob.report_now.set()
    ob.spawn(_resync_soon(ob, "close directional"))


async def _resync_soon(ob: Obedience, why: str) -> None:
    """The bookkeeping resync after a halt or close (orders, fills, positions, wallet from the
    venue) is not urgent: deferred a moment, it leaves the venue and the API server to the other
    engines of a fleet that are still being told and still closing."""
    await asyncio.sleep(ob.resync_after_s)
    await ob.resync(why)


async def _retry_halt_later(ob: Obedience) -> None:
    await asyncio.sleep(ob.retry_s)
    if ob.governor.halted:
        ob.governor.request_halt_retry()


async def _retry_directive_later(ob: Obedience, directive: GovernanceDirective) -> None:
    await asyncio.sleep(ob.retry_s)
    if ob.governor.directive.sequence == directive.sequence:
        ob.governor.request_directive_retry(directive)


async def _retry_shutdown_later(ob: Obedience) -> None:
    await asyncio.sleep(ob.retry_s)
    ob.governor.request_shutdown_retry()


async def _shutdown(ob: Obedience) -> None:
    governor = ob.governor
    flatten = governor.shutdown_flatten and governor.shutdown_requested_at is not None
    stamp = (
        governor.shutdown_requested_at.strftime("%Y%m%d%H%M%S")
        if governor.shutdown_requested_at
        else "suspend"
    )
    log.info("shutdown requested", extra={"flatten": flatten})
    try:
        if flatten:
            result = await ob.flattener.flatten(f"shutdown:{stamp}")
            if not result.flat:
                raise VenueError(0, f"not flat yet: {result.plan.describe()}")
        else:
            await ob.cancel_all()
        await ob.resync("shutdown")
    except VenueError as error:
        ob.errors.set(ErrorSource.SHUTDOWN, str(error))
        ob.spawn(_retry_shutdown_later(ob))
        return
    ob.errors.clear(ErrorSource.SHUTDOWN)
    await ob.governance_event("shutdown", None, {"flatten": flatten, "at": stamp})
    governor.mark_shutdown_done()
    ob.report_now.set()
