"""The look-ahead guard: features computed once over history must be causal."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine_runtime.strategies.interface import MarketKey, Strategy


class LookAheadError(RuntimeError):
    """A strategy's features at some bar depend on later bars."""


def check_causality(
    strategy: Strategy, key: MarketKey, candles: pd.DataFrame, full: pd.DataFrame, cuts: int = 3
) -> None:
    """Raise ``LookAheadError`` if ``features`` on prefixes disagree with the full computation."""
    n = len(candles)
    if n < 8 or full.shape[1] == 0:
        return
    for k in sorted({max(2, n * j // (cuts + 1)) for j in range(1, cuts + 1)}):
        part = strategy.features(key[0], key[1], candles.iloc[:k])
        a = full.iloc[:k].to_numpy(np.float64)
        b = part.to_numpy(np.float64)
        if a.shape != b.shape or not _close(a, b):
            raise LookAheadError(
                f"{strategy.name}: features of {key[0]} {key[1].value} on the first {k} bars "
                "differ from the full-history computation; a feature reads later bars"
            )


def _close(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> bool:
    """``allclose`` (relative 1e-9, absolute 1e-12, NaN equal to NaN), trying exact equality
    first: a causal feature usually comes out bit for bit the same, and that comparison costs a
    tenth of ``allclose`` (or of ``array_equal``). Where it fails, ``allclose`` decides: the
    answer is ``allclose``'s either way."""
    same = a == b
    if not same.all():
        same |= np.isnan(a) & np.isnan(b)
    return bool(same.all()) or bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
