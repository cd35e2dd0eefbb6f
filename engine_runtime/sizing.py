"""Position sizing: fractional Kelly and risk-based sizing, capped.

The Eternal Engine sizes a directional position as the *smaller* of

* fractional Kelly (1/8 by default) from the strategy's recorded win rate ``p`` and payoff ``b``
  (average win / average loss): ``f* = (b p - q) / b`` with ``q = 1 - p``;
* risk-based sizing: ``risk_fraction * equity / |entry - stop|`` (1% of equity lost at the stop);

then caps it at the maximum position (a notional fraction of equity). The governance size
multiplier (0.75 at breaker level 1, ...) is not applied here: the runtime applies it once to the
order it sends (``governance.admission.admit``), so it shrinks even a capped position and a
strategy cannot apply it twice.

Kelly basis. Kelly's ``f*`` is the share of the bankroll to *lose* on a losing bet. With a stop,
what a trade loses is ``qty * |entry - stop|``, so by default (``KellyBasis.RISK``) the Kelly
quantity is ``f * equity / |entry - stop|``: Kelly and the 1% rule are compared in the same unit
(capital at risk). The design document's literal formula treats ``f`` as a notional fraction,
``f * equity / entry``; ``KellyBasis.NOTIONAL`` gives that. Without enough recorded trades there is
no estimate, and only the risk rule applies. A non-positive Kelly (no recorded edge) sizes zero.

All money is ``Decimal``; the result is rounded *down* to the instrument's quantity step.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)


class KellyBasis(StrEnum):
    """What the Kelly fraction is a fraction of: capital at risk, or notional."""

    RISK = "risk"
    NOTIONAL = "notional"


@dataclass(frozen=True, slots=True)
class TradeStats:
    """A strategy's recorded closed-trade outcomes, the input to Kelly."""

    wins: int = 0
    losses: int = 0
    gross_win: Decimal = ZERO
    gross_loss: Decimal = ZERO  # positive number: the sum of losing trades' losses

    @property
    def trades(self) -> int:
        return self.wins + self.losses

    @property
    def win_rate(self) -> Decimal | None:
        return Decimal(self.wins) / Decimal(self.trades) if self.trades else None

    @property
    def payoff(self) -> Decimal | None:
        """Average win over average loss; None until there is at least one of each."""
        if not self.wins or not self.losses or self.gross_loss <= 0:
            return None
        return (self.gross_win / self.wins) / (self.gross_loss / self.losses)

    def record(self, pnl: Decimal) -> TradeStats:
        """The stats with one more closed trade (a zero PnL counts as a loss of nothing)."""
        if pnl > 0:
            return TradeStats(self.wins + 1, self.losses, self.gross_win + pnl, self.gross_loss)
        return TradeStats(self.wins, self.losses + 1, self.gross_win, self.gross_loss - pnl)


def kelly_fraction(win_rate: Decimal, payoff: Decimal) -> Decimal:
    """Full Kelly ``(b p - q) / b``; negative when the edge is negative."""
    if payoff <= 0:
        raise ValueError("payoff must be positive")
    if not ZERO <= win_rate <= ONE:
        raise ValueError("win_rate must be within 0..1")
    return (payoff * win_rate - (ONE - win_rate)) / payoff


@dataclass(frozen=True, slots=True)
class SizingPolicy:
    """The knobs of the sizing rule; defaults are the design document's."""

    risk_fraction: Decimal = Decimal("0.01")
    kelly_multiplier: Decimal = Decimal("0.125")
    kelly_basis: KellyBasis = KellyBasis.RISK
    min_trades_for_kelly: int = 20


@dataclass(frozen=True, slots=True)
class SizingResult:
    """The chosen quantity and every candidate, so a decision can be logged and explained."""

    qty: Decimal
    risk_qty: Decimal
    kelly_qty: Decimal | None
    cap_qty: Decimal
    binding: str  # "risk" | "kelly" | "cap"


def _round_down(qty: Decimal, step: Decimal) -> Decimal:
    if qty <= 0:
        return ZERO
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def position_size(
    *,
    equity: Decimal,
    entry_price: Decimal,
    stop_price: Decimal,
    max_position_notional: Decimal,
    stats: TradeStats | None = None,
    policy: SizingPolicy | None = None,
    qty_step: Decimal = Decimal("0.001"),
) -> SizingResult:
    """Quantity (base units) for a new position entered at ``entry_price`` with a stop.

    ``max_position_notional`` is the cap in quote currency (e.g. 50% of the subaccount).
    """
    policy = policy or SizingPolicy()
    if entry_price <= 0:
        raise ValueError("entry_price must be positive")
    stop_distance = abs(entry_price - stop_price)
    if stop_distance <= 0:
        raise ValueError("the stop must differ from the entry price")
    if equity <= 0:
        return SizingResult(ZERO, ZERO, None, ZERO, "risk")

    risk_qty = policy.risk_fraction * equity / stop_distance
    kelly_qty: Decimal | None = None
    if stats is not None and stats.trades >= policy.min_trades_for_kelly:
        p, b = stats.win_rate, stats.payoff
        if p is not None and b is not None:
            f = max(ZERO, kelly_fraction(p, b)) * policy.kelly_multiplier
            unit = stop_distance if policy.kelly_basis is KellyBasis.RISK else entry_price
            kelly_qty = f * equity / unit
        elif p == ZERO:  # only losses recorded: no edge
            kelly_qty = ZERO
    cap_qty = max(ZERO, max_position_notional) / entry_price

    qty, binding = risk_qty, "risk"
    if kelly_qty is not None and kelly_qty < qty:
        qty, binding = kelly_qty, "kelly"
    if cap_qty < qty:
        qty, binding = cap_qty, "cap"
    return SizingResult(_round_down(qty, qty_step), risk_qty, kelly_qty, cap_qty, binding)
