"""Funding settlements of the strategy's perpetuals, as `on_funding` events.

Polls the settled funding history (Bybit publishes no stream of settlements) once a minute, or
soon after a settlement is due; a settlement newer than the last one seen becomes a
`FundingEvent` with the rate and this subaccount's payment (its funding executions at that time,
sign as received). The first poll only fills the history strategies read with `funding_rates`.
"""

from __future__ import annotations

import asyncio
import logging

from engine_runtime.strategies.interface import FundingEvent
from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import VenueError

from .runner import StrategyRunner

log = logging.getLogger(__name__)
POLL_S = 60.0
HISTORY = 50


class FundingWatcher:
    def __init__(
        self, venue: BybitDomainClient, runner: StrategyRunner, symbols: list[str]
    ) -> None:
        self.venue = venue
        self.runner = runner
        self.symbols = symbols
        self.last_ts: dict[str, int] = {}

    async def run(self) -> None:
        if not self.symbols:
            return
        while True:
            for symbol in self.symbols:
                try:
                    await self.poll(symbol)
                except VenueError as error:
                    log.warning("funding history of %s: %s", symbol, error)
            await asyncio.sleep(POLL_S)

    async def poll(self, symbol: str) -> None:
        history = await self.venue.funding_history(symbol, HISTORY)
        if not history:
            return
        self.runner.market.funding[symbol] = [rate for _, rate in history]
        seen = self.last_ts.get(symbol)
        self.last_ts[symbol] = history[-1][0]
        if seen is None:
            return
        for ts, rate in history:
            if ts <= seen:
                continue
            payment = await self.venue.funding_payment(symbol, ts)
            predicted = self.runner.market.predicted_funding.get(symbol)
            self.runner.on_funding(FundingEvent(symbol, ts, rate, predicted, payment))
