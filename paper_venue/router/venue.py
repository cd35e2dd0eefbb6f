"""The paper venue: its state and the heartbeat that brings it to the clock.

`Venue` is the state (`VenueState`) plus `update`, which runs the parts in their order:
prices, resting orders against the moved books, funding, take-profit/stop-loss, liquidation,
dead-man's-switch cancels. Order entry, fills and settlement work on the state alone, so
nothing below imports this module back.
"""

from __future__ import annotations

from paper_venue.router import settlement, trading
from paper_venue.router.state import VenueState


class Venue(VenueState):
    """All state of the paper exchange, and its heartbeat."""

    # heartbeat ------------------------------------------------------------------------

    def update(self) -> list[str]:
        """Bring the market to the clock: prices, resting fills, funding, liquidation, DCP."""
        now = self.clock.now_ms()
        moved = self.market.update(now)
        self._refresh_books()
        self.publish_market_trades(moved, now)
        for engine in list(self.engines.values()):
            if engine.resting:
                trading.match_resting(self, engine.inst)
        while now >= self.next_funding_ms:
            settlement.settle_funding(self, self.next_funding_ms)
            self.next_funding_ms += self.settings.funding.interval_hours * 3_600_000
        settlement.check_stops(self)
        settlement.check_liquidations(self)
        network_now = self.clock.network_ms()
        for uid, deadline in list(self.dcp_deadlines.items()):
            if network_now >= deadline:
                del self.dcp_deadlines[uid]
                trading.cancel_all(self, uid, None, None, cancel_type="CancelAllBeforeDCP")
        for listener in self.tick_listeners:
            listener(moved)
        return moved
