"""META-TREND's triple barrier: where a trade's take-profit and stop-loss sit, and which bar
closes it. The training labels and the strategy decide with these same functions.

A signal decided at bar ``t``'s close enters at bar ``t+1``'s open (the backtester's rule and
the live runtime's: a market order after the close). From the entry, with ``d`` the direction:

* stop-loss at ``entry - d * stopLossAtr * ATR_t``: held by the venue on perpetuals, so it
  fills inside the bar that touches it, at the stop or at the open if the bar gapped through
  it (as the backtester fills stops); on spot the strategy watches it at each close;
* take-profit at ``entry + d * takeProfitAtr * ATR_t``: a close beyond it exits at the next
  open;
* time: after ``timeBarrierBars`` bars the trade exits at the next open.

The label of a signal is whether that trade made money after fees (both fills taker, plus
slippage, as the backtester charges them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams


class Exit(StrEnum):
    STOP = "stop"
    TAKE_PROFIT = "take-profit"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class Barriers:
    direction: int
    take_profit: float
    stop_loss: float


def barriers(direction: int, entry: float, atr: float, params: MetaTrendParams) -> Barriers:
    """The take-profit and stop-loss levels of a trade entered at ``entry``."""
    return Barriers(
        direction,
        entry + direction * float(params.take_profit_atr) * atr,
        entry - direction * float(params.stop_loss_atr) * atr,
    )


def stop_fill(b: Barriers, open_: float, high: float, low: float) -> float | None:
    """The price a venue-held stop fills at in this bar, None when the bar does not reach it."""
    if b.direction > 0 and low <= b.stop_loss:
        return min(open_, b.stop_loss)
    if b.direction < 0 and high >= b.stop_loss:
        return max(open_, b.stop_loss)
    return None


def exit_at_close(b: Barriers, close: float, bars_held: int, limit: int) -> Exit | None:
    """What the close of a bar (the ``bars_held``-th since the entry) decides, if anything:
    take-profit reached, a stop the venue does not hold (spot) reached, or time up."""
    if (close - b.take_profit) * b.direction >= 0:
        return Exit.TAKE_PROFIT
    if (close - b.stop_loss) * b.direction <= 0:
        return Exit.STOP
    if bars_held >= limit:
        return Exit.TIME
    return None


def trade_return(
    direction: int,
    t: int,
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    atr: float,
    params: MetaTrendParams,
    *,
    venue_stop: bool,
    cost: float,
) -> float | None:
    """Net return (fraction of the entry notional) of the trade a signal at bar ``t`` makes;
    None when the data ends before the trade does. ``cost`` is the round trip's fees and
    slippage as a fraction of notional."""
    n = len(close)
    if t + 1 >= n:
        return None
    entry = float(open_[t + 1])
    b = barriers(direction, entry, atr, params)
    limit = params.time_barrier_bars
    for k in range(t + 1, n):
        if venue_stop:
            filled = stop_fill(b, float(open_[k]), float(high[k]), float(low[k]))
            if filled is not None:
                return direction * (filled - entry) / entry - cost
        if exit_at_close(b, float(close[k]), k - t, limit) is not None:
            if k + 1 >= n:
                return None
            return direction * (float(open_[k + 1]) - entry) / entry - cost
    return None
