"""Time splits: the purge keeps every training label out of the test period; no shuffling."""

from __future__ import annotations

import numpy as np
import pytest

from engine_runtime.train.split import purged_split, walk_forward

pytestmark = pytest.mark.unit


def test_purged_split_drops_training_labels_that_reach_into_the_test() -> None:
    times = np.arange(0, 100)
    fold = purged_split(times, horizon=5, test_start=60, test_end=80, purge=3)
    assert fold.train.max() == 51  # 51 + 5 < 60 - 3; 52 would end at 57, inside the purge
    assert fold.test.min() == 60
    assert fold.test.max() == 79


def test_walk_forward_folds_move_forward_without_overlap() -> None:
    times = np.sort(np.random.default_rng(0).integers(0, 10_000, 500))
    horizon, purge = 30, 20
    folds = walk_forward(times, 4, horizon, purge)
    assert len(folds) == 4
    previous_end = -1
    for fold in folds:
        train_t, test_t = times[fold.train], times[fold.test]
        assert (train_t + horizon < test_t.min() - purge).all()  # labels end before the test
        assert test_t.min() > previous_end  # test periods follow each other
        assert not set(fold.train) & set(fold.test)
        previous_end = test_t.max()
    assert len(folds[-1].train) > len(folds[0].train)  # an expanding window
