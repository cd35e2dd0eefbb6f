"""The equity governance reads: the wallet from the venue, revalued at the tickers' prices in
between reads, published to the engine's Redis stream.

The wallet is read after every fill or balance change and every `wallet_interval_s`; in
between, the last read is revalued at the tickers' prices (`portfolio.valuation`), stamped with
the read's time. It goes out every `equity_interval_s` while it changes, at once on a move of
`EQUITY_STEP`, and at least every `EQUITY_HEARTBEAT_S`. The status report, slower, spares the
API server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol

from engine_runtime.portfolio import valuation
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.errors import ErrorRegistry, ErrorSource
from eternal_kernel.bybit.errors import VenueError
from eternal_kernel.model.reports import WalletReport
from eternal_kernel.waiting import woken_or_after

log = logging.getLogger(__name__)
EQUITY_STEP = Decimal("0.001")
"""A price move that changes equity by this fraction reaches governance at once."""
EQUITY_HEARTBEAT_S = 1.0
"""The equity stream hears from a live runtime at least this often, changed or not: governance
takes a runtime silent for a few seconds as gone, and measures its account itself."""
SETTLE_S = 0.1
"""After a fill, the wait for the wallet update that follows the execution."""


class Wallet(Protocol):
    async def wallet(self) -> WalletReport: ...


class EquityPublisher:
    def __init__(
        self,
        venue: Wallet,
        portfolio: Portfolio,
        errors: ErrorRegistry,
        publish: Callable[[Decimal, int], Awaitable[None]],
        *,
        equity_interval_s: float,
        wallet_interval_s: float,
    ) -> None:
        self.venue = venue
        self.portfolio = portfolio
        self.errors = errors
        self.publish = publish
        self.equity_interval_s = equity_interval_s
        self.wallet_interval_s = wallet_interval_s
        self.dirty = asyncio.Event()  # balances changed: read the wallet
        self.wake = asyncio.Event()  # publish now: balances changed or prices moved far
        self.basis: valuation.WalletBasis | None = None
        self._published = Decimal(0)  # the last figure sent to governance

    async def read_wallet(self) -> valuation.WalletBasis:
        """The wallet from the venue, kept with the prices known when it was read."""
        measured_ms = time.time_ns() // 1_000_000  # before the read: never after it
        prices = dict(self.portfolio.marks)
        try:
            wallet = await self.venue.wallet()
        except VenueError as error:
            self.errors.set(ErrorSource.WALLET, str(error))
            raise
        self.errors.clear(ErrorSource.WALLET)
        self.portfolio.on_wallet(wallet)
        self.basis = valuation.basis(wallet, self.portfolio.open_positions(), prices, measured_ms)
        return self.basis

    def on_price(self) -> None:
        """A ticker moved a price: a move of `EQUITY_STEP` or more goes to governance at once."""
        if self.basis is None or self.wake.is_set():
            return
        equity = valuation.revalue(self.basis, self.portfolio.marks)
        if abs(equity - self._published) >= EQUITY_STEP * abs(self._published):
            self.wake.set()

    def on_balance_change(self) -> None:
        self.dirty.set()
        self.wake.set()

    async def run(self) -> None:
        next_read = 0.0
        sent: valuation.WalletBasis | None = None  # the read the last figure came from
        said = 0.0  # when the last figure went out: at least every EQUITY_HEARTBEAT_S
        while True:
            await woken_or_after(self.wake, self.equity_interval_s)
            self.wake.clear()
            basis = self.basis
            if self.dirty.is_set() or basis is None or time.monotonic() >= next_read:
                if self.dirty.is_set():
                    self.dirty.clear()
                    await asyncio.sleep(SETTLE_S)
                try:
                    basis = await self.read_wallet()
                    next_read = time.monotonic() + self.wallet_interval_s
                except VenueError as error:
                    log.debug("equity: wallet read failed: %s", error)
                    next_read = time.monotonic() + self.equity_interval_s
            if basis is None:
                continue
            equity = valuation.revalue(basis, self.portfolio.marks)
            quiet = time.monotonic() - said >= EQUITY_HEARTBEAT_S
            if equity != self._published or basis is not sent or quiet:
                await self.publish(equity, basis.measured_ms)
                self._published, sent, said = equity, basis, time.monotonic()
