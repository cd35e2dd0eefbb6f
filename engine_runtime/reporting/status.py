"""`status.runtime` of the Engine: built from the runtime's state, written by merge patch.

Only `status.runtime` is ever written (each part of status has one writer). Every field is sent
on every report, so a cleared value (lastError, shutdownDoneAt) is cleared on the server too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from engine_runtime.portfolio.portfolio import Portfolio
from eternal_kernel.api.v1alpha1.engine import PositionReport, RuntimeReport, RuntimeStartError
from eternal_kernel.model.enums import Category

PLACES = Decimal("0.00000001")


def money(value: Decimal) -> str:
    """A decimal string the API accepts: plain notation, at most 8 places, no '-0'."""
    text = format(value.quantize(PLACES).normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def build_report(
    portfolio: Portfolio,
    *,
    open_orders: int,
    applied_directive: int | None,
    flat: bool | None,
    venue_connected: bool,
    shutdown_done_at: datetime | None,
    last_error: str | None,
    residue: list[str] | None = None,
    now: datetime | None = None,
    entries_paused: str | None = None,
) -> RuntimeReport:
    positions = []
    for p in portfolio.open_positions()[:100]:
        side = p.side
        if side is None:
            continue
        venue = portfolio.venue_positions.get(p.symbol) if p.category is Category.LINEAR else None
        upnl = venue.unrealized_pnl if venue else p.unrealized_pnl(portfolio.marks.get(p.symbol))
        positions.append(
            PositionReport(
                symbol=p.symbol,
                category=p.category.value,
                side=side.value,
                size=money(abs(p.qty)),
                entry_price=money(p.avg_entry_price),
                unrealized_pnl=money(upnl),
            )
        )
    return RuntimeReport(
        equity=money(portfolio.equity),
        cash=money(portfolio.cash),
        day_pnl=money(portfolio.day_pnl),
        drawdown=money(portfolio.drawdown),
        positions=positions,
        open_orders=open_orders,
        heartbeat=(now or datetime.now(UTC)).replace(microsecond=0),
        applied_directive=applied_directive,
        flat=flat,
        venue_connected=venue_connected,
        shutdown_done_at=shutdown_done_at,
        last_error=(last_error or None) and last_error[:1000],
        residue=[r[:256] for r in (residue or [])[:20]],
        entries_paused=(entries_paused or None) and entries_paused[:1024],
    )


def status_patch(report: RuntimeReport) -> dict[str, Any]:
    body = report.model_dump(mode="json", by_alias=True)
    return {"status": {"runtime": body}}


def start_error_patch(message: str, now: datetime) -> dict[str, Any]:
    """Only `status.runtime.startError`: the rest of what an earlier runtime reported stays
    (a merge patch), and the next runtime that starts clears it with its first full report."""
    error = RuntimeStartError(message=message[:1024], time=now.replace(microsecond=0))
    return {"status": {"runtime": {"startError": error.model_dump(mode="json", by_alias=True)}}}
