"""Fitting the meta-model: XGBoost over the signal features, a small tuning grid chosen by
walk-forward AUC, and the metrics of a probability against labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine_runtime.strategies.meta_trend_features import MODEL_FEATURES

from .split import Fold

if TYPE_CHECKING:
    import xgboost

GRID: tuple[dict[str, Any], ...] = tuple(
    {"max_depth": depth, "eta": eta, "rounds": rounds}
    for depth in (2, 3, 4)
    for eta in (0.05, 0.1)
    for rounds in (100, 250)
)
"""The tuning grid: tree depth, learning rate, boosting rounds."""


def fit(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], hp: dict[str, Any], seed: int
) -> xgboost.Booster:
    """A binary classifier; deterministic for a seed (one thread, fixed sampling seed)."""
    import xgboost

    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": hp["max_depth"],
        "eta": hp["eta"],
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 5,
        "seed": seed,
        "nthread": 1,
    }
    matrix = xgboost.DMatrix(x, label=y, feature_names=list(MODEL_FEATURES))
    return xgboost.train(params, matrix, num_boost_round=hp["rounds"])


def predict(booster: xgboost.Booster, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    if len(x) == 0:
        return np.zeros(0)
    return np.asarray(booster.inplace_predict(x), dtype=np.float64)


def auc(y: npt.ArrayLike, p: npt.ArrayLike) -> float | None:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half); None when only
    one class is present."""
    labels, scores = np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.float64)
    positives, negatives = int(labels.sum()), int((1 - labels).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) /
                 (positives * negatives))  # fmt: skip


def choose(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], folds: Sequence[Fold], seed: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The grid point with the best mean walk-forward AUC (the first on ties), and every
    point's score."""
    scores = []
    for hp in GRID:
        values = []
        for fold in folds:
            if len(set(y[fold.train].tolist())) < 2:
                continue
            booster = fit(x[fold.train], y[fold.train], hp, seed)
            value = auc(y[fold.test], predict(booster, x[fold.test]))
            if value is not None:
                values.append(value)
        scores.append({**hp, "auc": float(np.mean(values)) if values else None})
    best = max(range(len(GRID)), key=lambda i: (scores[i]["auc"] or 0.0, -i))
    return dict(GRID[best]), scores
