"""Reconciliation with the venue: at start (before any trading) and after every stream gap.

The venue is the truth for what exists; the database is the truth for what we meant. Orders we
recorded are looked up by orderLinkId: found, they take the venue's state; not found and never
acknowledged, they were lost mid-submit and are sent again with the same orderLinkId while the
decision is young (else expired); acknowledged orders the venue no longer knows are closed.
Open orders the venue has that we never recorded are adopted, so they are followed and
cancelled like ours. Executions we missed are booked (once, by execution id), and positions
that still disagree take the venue's size. Every difference is recorded as a discrepancy
(database, Redis event, metric, log) before trading starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from engine_runtime.execution.manager import OrderManager
from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.persistence.store import Store
from engine_runtime.portfolio.portfolio import Portfolio
from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.model.enums import Category, OrderStatus
from eternal_kernel.model.instruments import Instrument

log = logging.getLogger(__name__)

FILL_LOOKBACK_MS = 7 * 24 * 3600 * 1000
FILL_OVERLAP_MS = 120_000

Report = Callable[[str, str, str | None, str | None, str], Awaitable[None]]
"""(kind, subject, ours, venue, resolution)."""


@dataclass
class ReconcileResult:
    discrepancies: list[str] = field(default_factory=list)
    resent: int = 0
    fills_booked: int = 0


class Reconciler:
    def __init__(
        self,
        venue: BybitDomainClient,
        store: Store,
        manager: OrderManager,
        portfolio: Portfolio,
        instruments: dict[tuple[str, Category], Instrument],
        report: Report,
        *,
        resubmit_max_age_s: float,
        categories: tuple[Category, ...],
    ) -> None:
        self.venue = venue
        self.store = store
        self.manager = manager
        self.portfolio = portfolio
        self.instruments = instruments
        self.report = report
        self.resubmit_max_age_s = resubmit_max_age_s
        self.categories = categories
        self.last_fill_ms = 0

    async def load(self) -> None:
        """Our side, from PostgreSQL."""
        for order in await self.store.load_orders(open_only=True):
            self.manager.orders[order.client_order_id] = order
        for position in await self.store.load_positions():
            self.portfolio.positions[(position.symbol, position.category)] = position
        checkpoint = await self.store.load_checkpoint()
        self.portfolio.restore(checkpoint)
        self.last_fill_ms = checkpoint.last_fill_ms
        since = (checkpoint.last_fill_ms or _now_ms()) - FILL_LOOKBACK_MS
        self.manager.booked |= await self.store.known_trade_ids(since)

    async def run(self, *, at_start: bool) -> ReconcileResult:
        result = ReconcileResult()
        self.portfolio.on_wallet(await self.venue.wallet())
        await self._orders(result, at_start)
        await self._fills(result)
        await self._positions(result)
        self.portfolio.on_wallet(await self.venue.wallet())
        return result

    async def _note(
        self,
        result: ReconcileResult,
        kind: str,
        subject: str,
        ours: str | None,
        venue: str | None,
        resolution: str,
    ) -> None:
        result.discrepancies.append(f"{kind} {subject}: ours={ours} venue={venue} -> {resolution}")
        await self.report(kind, subject, ours, venue, resolution)

    async def _orders(self, result: ReconcileResult, at_start: bool) -> None:
        pending = [o for o in self.manager.orders.values() if o.is_open]
        for order in pending:
            venue = await self.venue.order(order.category, order.client_order_id)
            ours = order.status.value
            if venue is not None:
                self.manager.on_order_report(venue)
                if venue.status.value != ours and at_start:
                    await self._note(
                        result,
                        "order",
                        order.client_order_id,
                        ours,
                        venue.status.value,
                        "took the venue's state",
                    )
                continue
            if order.status in (OrderStatus.CREATED, OrderStatus.SUBMITTED):
                if order.client_order_id in self.manager.unresolved or at_start:
                    await self._lost(result, order)
                continue
            order.set_status(OrderStatus.CANCELLED)
            await self.store.update_order(order)
            await self._note(
                result,
                "order",
                order.client_order_id,
                ours,
                None,
                "venue has no such order: closed as cancelled",
            )
        known = set(self.manager.orders)
        for category in self.categories:
            for report in await self.venue.open_orders(category):
                if report.client_order_id in known and report.client_order_id:
                    self.manager.on_order_report(report)
                    continue
                await self._adopt(result, report.client_order_id or report.venue_order_id, report)

    async def _lost(self, result: ReconcileResult, order: ManagedOrder) -> None:
        age_s = (_now_ms() - order.created_ms) / 1000
        if age_s <= self.resubmit_max_age_s:
            await self._note(
                result,
                "order",
                order.client_order_id,
                order.status.value,
                None,
                "never reached the venue: sent again with the same orderLinkId",
            )
            result.resent += 1
            await self.manager.resend(order)
        else:
            order.set_status(OrderStatus.REJECTED, f"not placed before restart ({age_s:.0f}s old)")
            await self.store.update_order(order)
            await self._note(
                result,
                "order",
                order.client_order_id,
                order.status.value,
                None,
                "never reached the venue and too old: expired",
            )
        self.manager.unresolved.discard(order.client_order_id)

    async def _adopt(self, result: ReconcileResult, link: str, report: object) -> None:
        from eternal_kernel.model.reports import OrderStatusReport

        assert isinstance(report, OrderStatusReport)
        order = ManagedOrder(
            client_order_id=report.client_order_id or report.venue_order_id,  # type: ignore[arg-type]
            intent_id=f"external:{link}",
            symbol=report.symbol,
            category=report.category,
            side=report.side,
            order_type=report.order_type,
            qty=report.qty,
            price=report.price,
            reduce_only=report.reduce_only,
            status=report.status,
            venue_order_id=report.venue_order_id,
            filled_qty=report.filled_qty,
            avg_price=report.avg_price,
            reason="adopted from the venue",
            created_ms=report.ts_event_ms or _now_ms(),
        )
        self.manager.orders[order.client_order_id] = order
        if not await self.store.insert_order(order):  # a row from an earlier life: write over it
            order.version = await self.store.order_version(order.client_order_id)
            await self.store.update_order(order)
        await self._note(
            result,
            "order",
            link,
            None,
            report.status.value,
            "open on the venue but not recorded: adopted",
        )

    async def _fills(self, result: ReconcileResult) -> None:
        # No fill booked yet: no startTime, Bybit's default window (the last 7 days by the
        # venue's own clock; a paper venue's market clock may run ahead of ours). Otherwise
        # from just before the last fill, within the 7 days one query may span.
        start = (
            max(self.last_fill_ms - FILL_OVERLAP_MS, _now_ms() - FILL_LOOKBACK_MS + 60_000)
            if self.last_fill_ms
            else None
        )
        for category in self.categories:
            fills = await self.venue.fills(category, start_ms=start)
            for fill in sorted(fills, key=lambda f: f.ts_event_ms):
                if fill.trade_id in self.manager.booked:
                    continue
                if await self.manager.on_fill(fill):
                    result.fills_booked += 1
                    self.last_fill_ms = max(self.last_fill_ms, fill.ts_event_ms)
                    await self._note(
                        result,
                        "fill",
                        fill.trade_id,
                        None,
                        f"{fill.side} {fill.qty} {fill.symbol} @ {fill.price}",
                        "missed execution booked",
                    )

    async def _positions(self, result: ReconcileResult) -> None:
        if Category.LINEAR in self.categories:
            venue = {p.symbol: p for p in await self.venue.positions() if p.size > 0}
            for venue_position in venue.values():
                self.portfolio.venue_positions[venue_position.symbol] = venue_position
            symbols = set(venue) | {
                p.symbol for p in self.portfolio.open_positions() if p.category is Category.LINEAR
            }
            for symbol in sorted(symbols):
                ours = self.portfolio.position(symbol, Category.LINEAR)
                report = venue.get(symbol)
                size = (report.size * report.side.sign) if report and report.side else Decimal(0)
                if ours.qty == size:
                    continue
                await self._note(
                    result,
                    "position",
                    f"{symbol}/linear",
                    str(ours.qty),
                    str(size),
                    "took the venue's size and entry",
                )
                ours.qty = size
                ours.avg_entry_price = report.entry_price if report else Decimal(0)
                await self.store.save_position(ours)
        if Category.SPOT in self.categories and self.portfolio.wallet is not None:
            coins = self.portfolio.wallet.coins
            for (symbol, category), inst in self.instruments.items():
                if category is not Category.SPOT:
                    continue
                held = (
                    coins[inst.base_coin].wallet_balance if inst.base_coin in coins else Decimal(0)
                )
                ours = self.portfolio.position(symbol, Category.SPOT)
                if abs(ours.qty - held) < inst.qty_step:
                    continue
                await self._note(
                    result,
                    "position",
                    f"{symbol}/spot",
                    str(ours.qty),
                    str(held),
                    "took the wallet's balance",
                )
                if ours.qty <= 0 and held > 0:
                    ours.avg_entry_price = self.portfolio.marks.get(symbol, Decimal(0))
                ours.qty = held
                await self.store.save_position(ours)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
