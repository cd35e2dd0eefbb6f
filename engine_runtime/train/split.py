"""Splits by time, never shuffled: a purge gap keeps every training label's trade out of the
period it is tested on.

An event is a signal at time ``t`` whose label depends on the bars up to ``t + horizon`` (the
time barrier and the exit fill). A training event is kept for a test period only if its horizon
ends before the test period starts, less ``purge`` (an extra embargo).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Fold:
    """Indices (into the time-sorted events) to train on and to test on."""

    train: IntArray
    test: IntArray


def purged_split(
    times: npt.ArrayLike, horizon: int, test_start: int, test_end: int | None = None, purge: int = 0
) -> Fold:
    """Train on events whose labels end before ``test_start - purge``; test on events in
    ``[test_start, test_end)``. ``times`` are event times (bar positions or ms), sorted."""
    t = np.asarray(times, dtype=np.int64)
    end = np.iinfo(np.int64).max if test_end is None else test_end
    train = np.flatnonzero(t + horizon < test_start - purge)
    test = np.flatnonzero((t >= test_start) & (t < end))
    return Fold(train.astype(np.int64), test.astype(np.int64))


def walk_forward(
    times: npt.ArrayLike, folds: int, horizon: int, purge: int = 0, min_train: float = 0.4
) -> list[Fold]:
    """Expanding-window walk-forward: the span after the first ``min_train`` share is cut in
    ``folds`` consecutive test periods; each trains on everything before it, purged."""
    t = np.asarray(times, dtype=np.int64)
    if len(t) == 0 or folds < 1:
        return []
    first, last = int(t[0]), int(t[-1]) + 1
    start = first + int((last - first) * min_train)
    edges = np.linspace(start, last, folds + 1).astype(np.int64)
    out = []
    for a, b in itertools.pairwise(edges):
        fold = purged_split(t, horizon, int(a), int(b), purge)
        if len(fold.train) and len(fold.test):
            out.append(fold)
    return out
