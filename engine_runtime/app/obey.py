"""Carrying out what governance and the operator asked (the flags are already in force).

A directive is persisted and recorded first, then acted on; but a halt (from the directive or
from a policy's status, whichever is heard first) is carried out before anything is recorded:
it cancels everything and flattens the whole account until the venue shows it flat (the
checkpoint saved meanwhile). Close-directional closes the linear positions. The applied
sequence is reported at once, or for these two once carried out (one status write per engine
instead of two, when a whole fleet halts together). A shutdown (or suspend) cancels all
open orders, flattens if asked, and answers with `shutdownDoneAt`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine_runtime.adapters.bybit.errors import VenueError
from engine_runtime.governance.latch import Halt
from engine_runtime.reporting.errors import ErrorSource
from eternal_operator.api.v1alpha1.engine import GovernanceDirective

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)
RETRY_S = 2.0
RESYNC_AFTER_S = 2.0


async def obey(rt: Runtime) -> None:
    governor = rt.governor
    if governor.take_shutdown():
        await _shutdown(rt)
    directive = governor.take_directive()
    halt = governor.take_halt()
    if halt is not None:
        await _halt(rt, halt)  # the account first: the directive's record can wait
    if directive is not None:
        await _record(rt, directive)
    if halt is not None:
        rt.report_now.set()  # applied once carried out (and flat, or not)
    elif directive is not None and directive.close_directional and not governor.halted:
        await _close_directional(rt, directive)
    elif directive is not None:
        rt.report_now.set()  # nothing to carry out: applied now


async def _record(rt: Runtime, directive: GovernanceDirective) -> None:
    detail = directive.model_dump(mode="json", by_alias=True)
    await rt.reporter.save_checkpoint()
    await rt.store.governance_event("directive", directive.sequence, detail)
    rt.spawn(rt.cache.event("directive", detail))  # best effort: a stuck Redis waits aside
    rt.governor.mark_applied(directive)
    if not rt.governor.halted:
        rt.errors.clear(ErrorSource.HALT)  # no halt in force: its "not flat yet" is moot
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


async def _halt(rt: Runtime, halt: Halt) -> None:
    governor = rt.governor
    # The halt survives a crash before it is carried out: checkpointed while the flatten starts.
    saved = asyncio.create_task(rt.reporter.save_checkpoint())
    try:
        result = await rt.flattener.flatten(halt.purpose)
    except VenueError as error:
        rt.errors.set(ErrorSource.HALT, str(error))
        rt.spawn(_retry_halt_later(rt))
        rt.report_now.set()
        return
    finally:
        await saved
    governor.flat = result.flat
    governor.residue = result.residue
    await rt.store.governance_event(
        "halt-flat" if result.flat else "halt-not-flat",
        halt.sequence,
        {"policy": halt.policy, "result": result.summary(), "residue": result.residue},
    )
    if result.flat:
        rt.errors.clear(ErrorSource.HALT)
    else:
        rt.errors.set(ErrorSource.HALT, f"not flat yet: {result.plan.describe()}")
        rt.spawn(_retry_halt_later(rt))
    rt.spawn(_resync_soon(rt, "halt"))


async def _close_directional(rt: Runtime, directive: GovernanceDirective) -> None:
    purpose = f"close:{directive.policy or ''}:{directive.sequence}"
    try:
        await rt.flattener.flatten(purpose, directional_only=True)
    except VenueError as error:
        rt.errors.set(ErrorSource.HALT, f"close directional: {error}")
        rt.spawn(_retry_directive_later(rt, directive))
    rt.report_now.set()
    rt.spawn(_resync_soon(rt, "close directional"))


async def _resync_soon(rt: Runtime, why: str) -> None:
    """The bookkeeping resync after a halt or close (orders, fills, positions, wallet from the
    venue) is not urgent: deferred a moment, it leaves the venue and the API server to the other
    engines of a fleet that are still being told and still closing."""
    await asyncio.sleep(RESYNC_AFTER_S)
    await rt.resync(why)


async def _retry_halt_later(rt: Runtime) -> None:
    await asyncio.sleep(RETRY_S)
    if rt.governor.halted:
        rt.governor.request_halt_retry()


async def _retry_directive_later(rt: Runtime, directive: GovernanceDirective) -> None:
    await asyncio.sleep(RETRY_S)
    if rt.governor.directive.sequence == directive.sequence:
        rt.governor.request_directive_retry(directive)


async def _retry_shutdown_later(rt: Runtime) -> None:
    await asyncio.sleep(RETRY_S)
    rt.governor.request_shutdown_retry()


async def _shutdown(rt: Runtime) -> None:
    governor = rt.governor
    flatten = governor.shutdown_flatten and governor.shutdown_requested_at is not None
    stamp = (
        governor.shutdown_requested_at.strftime("%Y%m%d%H%M%S")
        if governor.shutdown_requested_at
        else "suspend"
    )
    log.info("shutdown requested", extra={"flatten": flatten})
    try:
        if flatten:
            result = await rt.flattener.flatten(f"shutdown:{stamp}")
            if not result.flat:
                raise VenueError(0, f"not flat yet: {result.plan.describe()}")
        else:
            await rt.manager.cancel_all()
        await rt.resync("shutdown")
    except VenueError as error:
        rt.errors.set(ErrorSource.SHUTDOWN, str(error))
        rt.spawn(_retry_shutdown_later(rt))
        return
    rt.errors.clear(ErrorSource.SHUTDOWN)
    await rt.store.governance_event("shutdown", None, {"flatten": flatten, "at": stamp})
    governor.mark_shutdown_done()
    rt.report_now.set()
