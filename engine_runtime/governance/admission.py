"""How much of an order governance lets through: the directive's size multiplier, applied once.

Strategies size their orders as if no breaker had tripped (they still read the directive to
pause entries, close, widen stops). The directive's ``size_multiplier`` scales what is sent, here
and nowhere else: the live runner calls `admit` on every order at send time, where no strategy
can bypass it, and the backtester on the same intents where they become simulated orders, so a
backtest and the live fleet cut the same orders by the same amount.

* An exit (reduce-only, or against the position and no larger than it: `risk.checks.exits`, the
  rule the pre-trade checks use) is never scaled: a governed runtime must always get out whole.
* An entry is multiplied and rounded *down* to ``step`` (the instrument's quantity step, or the
  cent of a quote-sized order), so it never exceeds its share. A multiplier of 1 changes nothing.
* A multiplier of 0 withholds every entry: `admit` answers None and the caller sends nothing,
  without recording a refusal (a zero multiplier is governance's word, not a failed check; the
  strategies are told entries are paused, `entries_paused`, so the built-in ones ask for none).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from engine_runtime.risk.checks import exits

ZERO = Decimal(0)
ONE = Decimal(1)


def admit(
    qty: Decimal,
    *,
    buy: bool,
    reduce_only: bool,
    position: Decimal,
    multiplier: Decimal,
    step: Decimal | None,
    quote: bool = False,
) -> Decimal | None:
    """The quantity (base units, or quote when ``quote``) governance lets through of an order
    for ``qty`` against the signed ``position`` (> 0 long, < 0 short, 0 flat) of its market;
    None when it withholds the order (an entry under a multiplier of 0). ``step``: the step the
    scaled quantity is rounded down to (None: not rounded)."""
    if multiplier == ONE or exits(
        buy=buy, qty=qty, quote=quote, reduce_only=reduce_only, position=position
    ):
        return qty
    if multiplier <= ZERO:
        return None
    scaled = qty * min(multiplier, ONE)
    if step is None or step <= 0:
        return scaled
    return (scaled / step).to_integral_value(rounding=ROUND_DOWN) * step


def entries_paused(paused: bool, multiplier: Decimal) -> bool:
    """What a strategy is told: entries are paused when the directive pauses them, or when its
    multiplier lets no entry through (so a strategy does not ask, bar after bar, for orders
    `admit` withholds)."""
    return paused or multiplier <= ZERO
