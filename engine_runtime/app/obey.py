"""Carrying out what governance and the operator asked (the flags are already in force).

A directive is persisted and recorded first, then acted on: a halt cancels everything and
flattens until the venue shows the account flat, close-directional closes the linear
positions. The applied sequence is reported at once, or for these two once carried out (one
status write per engine instead of two, when a whole fleet halts together). A shutdown (or
suspend) cancels all open orders, flattens if asked, and answers with `shutdownDoneAt`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine_runtime.adapters.bybit.errors import VenueError
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
    if directive is None:
        return
    detail = directive.model_dump(mode="json", by_alias=True)
    await rt.reporter.save_checkpoint()
    await rt.store.governance_event("directive", directive.sequence, detail)
    await rt.cache.event("directive", detail)
    governor.mark_applied(directive)
    if not directive.halt:
        rt.errors.clear(ErrorSource.HALT)  # a halt released: its "not flat yet" is moot
    issued = directive.issued_at
    since_issued_ms = (datetime.now(UTC) - issued).total_seconds() * 1000 if issued else None
    log.info(
        "directive applied",
        extra={
            "sequence": directive.sequence,
            "breaker_level": directive.level,
            "halt": directive.halt,
            "since_issued_ms": since_issued_ms,
        },
    )
    if not (directive.halt or directive.close_directional):
        rt.report_now.set()  # nothing to carry out: applied now
        return
    if directive.halt:
        why = "halt"
        state = await rt.flattener.flatten(f"halt-{directive.sequence}", spot=True)
        governor.flat = state.flat
        await rt.store.governance_event(
            "halt-flat" if state.flat else "halt-not-flat",
            directive.sequence,
            {"left": state.positions, "open_orders": state.open_orders},
        )
        if state.flat:
            rt.errors.clear(ErrorSource.HALT)
        else:
            rt.errors.set(ErrorSource.HALT, f"not flat yet: {state.positions}")
            governor.wake.set()
            governor._pending = directive
    else:
        why = "close directional"
        await rt.flattener.flatten(f"close-{directive.sequence}", spot=False)
    rt.report_now.set()  # applied once carried out (a halt: and flat, or not)
    rt.spawn(_resync_soon(rt, why))


async def _resync_soon(rt: Runtime, why: str) -> None:
    """The bookkeeping resync after a halt or close (orders, fills, positions, wallet from the
    venue) is not urgent: deferred a moment, it leaves the venue and the API server to the other
    engines of a fleet that are still being told and still closing."""
    await asyncio.sleep(RESYNC_AFTER_S)
    await rt.resync(why)


async def _retry_later(rt: Runtime, directive: GovernanceDirective | None) -> None:
    """Try a halt (or, with None, a shutdown) again in a moment: the venue did not let it finish."""
    await asyncio.sleep(RETRY_S)
    if directive is None:
        rt.governor.request_shutdown_retry()
    elif rt.governor.directive.sequence == directive.sequence:
        rt.governor.request_directive_retry(directive)


async def _shutdown(rt: Runtime) -> None:
    governor = rt.governor
    flatten = governor.shutdown_flatten and governor.shutdown_requested_at is not None
    stamp = (
        governor.shutdown_requested_at.strftime("%Y%m%d%H%M%S")
        if (governor.shutdown_requested_at)
        else "suspend"
    )
    log.info("shutdown requested", extra={"flatten": flatten})
    try:
        if flatten:
            await rt.flattener.flatten(f"shutdown-{stamp}", spot=True)
        else:
            await rt.manager.cancel_all()
        await rt.resync("shutdown")
    except VenueError as error:
        rt.errors.set(ErrorSource.SHUTDOWN, str(error))
        governor.wake.set()
        governor._pending_shutdown = True
        return
    rt.errors.clear(ErrorSource.SHUTDOWN)
    await rt.store.governance_event("shutdown", None, {"flatten": flatten, "at": stamp})
    governor.mark_shutdown_done()
    rt.report_now.set()
