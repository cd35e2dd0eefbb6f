"""The fast path: skip the bars on which nothing can happen.

A strategy opts in with ``is_idle()`` and a ``wake`` feature column (non-zero where ``on_bar`` may
act although idle). When every engine is idle, with nothing queued, resting or stopped, the loop
jumps to the next wake bar or funding settlement. Positions cannot change in between, so each
skipped stretch is a constant plus quantities times closes: recorded as a segment and valued for
all segments at once at the end. A cheap worst-case bound (the stretch's extreme closes) decides
whether the exact per-bar liquidation test is needed at all. Results are identical to calling
every bar (tested), only faster. Runs with governance or contributions never skip.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engine_runtime.strategies.interface import Category

from .runs import EngineRun
from .views import Columns, Feed

Array = npt.NDArray[np.float64]
Terms = list[tuple[Array, float]]
Segment = tuple[int, int, list[tuple[float, Terms]]]
SPOT, LINEAR = Category.SPOT, Category.LINEAR
SHORT_SCAN = 64


class FastPath:
    """Wake bars per engine, the skip decision, and the skipped segments of one simulation."""

    def __init__(
        self,
        n: int,
        feed: Feed,
        runs: Sequence[EngineRun],
        funding_bars: Sequence[int],
        enabled: bool,
    ) -> None:
        self.n = n
        self.runs = runs
        self.enabled = enabled and all(
            callable(getattr(r.spec.strategy, "is_idle", None)) for r in runs
        )
        self.segments: list[Segment] = []
        self.close_np: dict[tuple[str, Category], Array] = {
            k: c.arrays["close"] for k, c in feed.columns.items()
        }
        self.close_cols: dict[int, Columns] = {
            id(c.arrays["close"]): c for c in feed.columns.values()
        }
        self.funding_bars = sorted(funding_bars)
        self.wake_lists: list[list[int]] = []
        for run in runs:
            wake = np.zeros(n, dtype=bool)
            for key in run.spec.strategy.markets():
                col = feed.columns[key].arrays.get("wake")
                if col is None:  # no declaration: every bar may matter
                    wake[:] = True
                    break
                wake |= np.nan_to_num(col) != 0
            self.wake_lists.append(np.flatnonzero(wake).tolist())
        self.wake_sets: list[set[int]] = [set(w) for w in self.wake_lists]

    def may_skip_decision(self, r: int, i: int) -> bool:
        """Engine ``r`` is idle and bar ``i`` is not one of its wake bars: ``on_bar`` would do
        nothing."""
        return i not in self.wake_sets[r] and bool(self.runs[r].spec.strategy.is_idle())  # type: ignore[attr-defined]

    def quiet_until(self, i: int) -> int:
        """The next bar from ``i`` on which anything can happen (``i`` if it may be this one)."""
        j = self.n
        for run, wakes in zip(self.runs, self.wake_lists, strict=True):
            acct = run.account
            if run.queue or acct.orders or acct.stops or run.pending_transfers or run.halted:
                return i
            if not run.spec.strategy.is_idle():  # type: ignore[attr-defined]
                return i
            k = bisect_left(wakes, i)
            if k < len(wakes):
                if wakes[k] == i:
                    return i
                j = min(j, wakes[k])
            if acct.perp_qty or run.spec.strategy.funding_symbols():
                k = bisect_left(self.funding_bars, i)
                if k < len(self.funding_bars):
                    j = min(j, self.funding_bars[k])
        return j

    def skip(self, i: int, j: int, mmr: float) -> int:
        """Skip bars ``i..j-1``; returns where normal processing resumes (``j``, or earlier at a
        bar where a perp position could be liquidated: equity at most ``mmr`` x gross)."""
        parts: list[tuple[float, Terms]] = []
        for run in self.runs:
            acct = run.account
            const = acct.cash
            terms: Terms = []
            for symbol, qty in acct.spot.items():
                terms.append((self.close_np[(symbol, SPOT)], qty))
            for symbol, qty in acct.perp_qty.items():
                const -= qty * acct.perp_entry[symbol]
                terms.append((self._perp_close(symbol), qty))
            if acct.perp_qty:
                j = min(j, self._first_liquidation(run, const, terms, i, j, mmr))
            parts.append((const, terms))
        if j <= i:
            return i
        self.segments.append((i, j, parts))
        return j

    def _first_liquidation(
        self, run: EngineRun, const: float, terms: Terms, i: int, j: int, mmr: float
    ) -> int:
        acct = run.account
        worst, gross = const, 0.0
        for arr, qty in terms:
            lo, hi = self._range(arr, i, j)
            worst += qty * (lo if qty > 0 else hi)
        for symbol, qty in acct.perp_qty.items():
            gross += abs(qty) * self._range(self._perp_close(symbol), i, j)[1]
        if worst > gross * mmr:
            return j
        eq = np.full(j - i, const)
        gross_arr = np.zeros(j - i)
        for arr, qty in terms:
            eq += qty * arr[i:j]
        for symbol, qty in acct.perp_qty.items():
            gross_arr += abs(qty) * self._perp_close(symbol)[i:j]
        bad = np.flatnonzero(eq <= gross_arr * mmr)
        return i + int(bad[0]) if bad.size else j

    def finalize(self, nav: npt.NDArray[np.float64], units: float) -> None:
        """Value the skipped segments into the per-bar series, all at once: constants plus
        quantities times closes, expanded with ``np.repeat``."""
        if not self.segments:
            return
        segs = self.segments
        starts = np.array([seg[0] for seg in segs], dtype=np.int64)
        lengths = np.array([seg[1] for seg in segs], dtype=np.int64) - starts
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        bars = np.arange(int(lengths.sum())) + offsets
        total = np.zeros(bars.size)
        for r, run in enumerate(self.runs):
            values = np.repeat(np.array([seg[2][r][0] for seg in segs]), lengths)
            per_array: dict[int, tuple[Array, list[float]]] = {}
            for s, seg in enumerate(segs):
                for arr, qty in seg[2][r][1]:
                    entry = per_array.get(id(arr))
                    if entry is None:
                        entry = per_array[id(arr)] = (arr, [0.0] * len(segs))
                    entry[1][s] += qty
            for arr, qtys in per_array.values():
                values += np.repeat(np.asarray(qtys), lengths) * arr[bars]
            run.equity[bars] = values
            run.exposed[bars] = np.repeat(np.array([bool(seg[2][r][1]) for seg in segs]), lengths)
            total += values
        nav[bars] = total / units
        self.segments = []

    def _range(self, arr: Array, i: int, j: int) -> tuple[float, float]:
        if j - i <= SHORT_SCAN:  # numpy's per-call cost exceeds a short Python scan
            window = self.close_cols[id(arr)]["close"][i:j]
            return min(window), max(window)
        view = arr[i:j]
        return float(view.min()), float(view.max())

    def _perp_close(self, symbol: str) -> Array:
        arr = self.close_np.get((symbol, LINEAR))
        return arr if arr is not None else self.close_np[(symbol, SPOT)]
