"""A binary XGBoost model's trees, read from its JSON and evaluated with numpy.

Why not the booster: one bar's prediction through ``Booster.inplace_predict`` pays XGBoost's
per-call set-up (array interface, proxy matrix, thread pool) on every bar, about 0.2 ms even for
a single row; the trees themselves are a few hundred comparisons. Here every tree of the model
descends one level per step, all at once (``depth`` numpy steps in all), so a bar costs tens of
microseconds. The JSON is read as data (arrays of numbers), never executed.

The rules are XGBoost's own: go left when ``x < split_condition`` in float32, a missing value
(NaN) follows ``default_left``, a leaf's value is its ``split_condition``, and the margin is the
sum of the leaves plus ``logit(base_score)``. ``artifact.MetaModel`` checks, at load, that these
trees give the booster's probabilities for the model it loads, and refuses the model otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

OBJECTIVE = "binary:logistic"


class UnsupportedModel(ValueError):
    """The JSON is not a model these trees evaluate (another objective, booster or split)."""


@dataclass(frozen=True)
class Forest:
    """All trees padded to one width; a leaf points to itself, so descending past it stays."""

    feature: npt.NDArray[np.intp]  # flat [trees * width]
    threshold: npt.NDArray[np.float32]
    left: npt.NDArray[np.intp]  # flat index of the left child (a leaf: itself)
    right: npt.NDArray[np.intp]
    default_left: npt.NDArray[np.bool_]
    value: npt.NDArray[np.float32]  # a leaf's value (0 for a split)
    roots: npt.NDArray[np.intp]  # flat index of each tree's root
    depth: int
    base_margin: float
    features: int

    def margins(self, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """The raw margin of each row of ``rows`` (shape rows x features, float32)."""
        x = np.asarray(rows, dtype=np.float32)
        node = np.broadcast_to(self.roots, (x.shape[0], self.roots.size))
        take = np.arange(x.shape[0])[:, None]
        for _ in range(self.depth):
            v = x[take, self.feature[node]]
            go_left = (v < self.threshold[node]) | (np.isnan(v) & self.default_left[node])
            node = np.where(go_left, self.left[node], self.right[node])
        leaves = self.value[node].sum(axis=1, dtype=np.float32)
        out: npt.NDArray[np.float64] = leaves.astype(np.float64) + self.base_margin
        return out

    def probabilities(self, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-self.margins(rows)))
        return out

    def probability(self, row: npt.NDArray[np.float32]) -> float:
        """One row's probability: the live path, one bar at a time."""
        x = row
        node = self.roots
        for _ in range(self.depth):
            v = x[self.feature[node]]
            go_left = (v < self.threshold[node]) | (np.isnan(v) & self.default_left[node])
            node = np.where(go_left, self.left[node], self.right[node])
        margin = float(self.value[node].sum(dtype=np.float32)) + self.base_margin
        return 1.0 / (1.0 + math.exp(-margin))


def _base_score(text: str) -> float:
    """``learner_model_param.base_score``: "5E-1" (XGBoost 2) or "[5E-1]" (XGBoost 3)."""
    values = json.loads(text) if text.startswith("[") else [float(text)]
    if len(values) != 1:
        raise UnsupportedModel(f"base_score {text!r}: one target expected")
    return float(values[0])


def _tree_depth(left: list[int], right: list[int]) -> int:
    depth, level = 0, [0]
    while True:
        level = [c for n in level for c in (left[n], right[n]) if c != -1]
        if not level:
            return depth
        depth += 1


def parse(model: Mapping[str, Any]) -> Forest:
    """The forest of an XGBoost JSON model (``Booster.save_raw("json")``, parsed)."""
    learner = model.get("learner") or {}
    objective = (learner.get("objective") or {}).get("name")
    if objective != OBJECTIVE:
        raise UnsupportedModel(f"objective {objective!r}, only {OBJECTIVE!r} is evaluated")
    booster = learner.get("gradient_booster") or {}
    if booster.get("name") != "gbtree":
        raise UnsupportedModel(f"booster {booster.get('name')!r}, only 'gbtree' is evaluated")
    trees = booster["model"]["trees"]
    if not trees:
        raise UnsupportedModel("the model has no trees")
    width = max(len(t["left_children"]) for t in trees)
    n = len(trees) * width
    feature = np.zeros(n, dtype=np.intp)
    threshold = np.zeros(n, dtype=np.float32)
    left = np.arange(n, dtype=np.intp)
    right = np.arange(n, dtype=np.intp)
    default_left = np.zeros(n, dtype=np.bool_)
    value = np.zeros(n, dtype=np.float32)
    depth = 0
    for t, tree in enumerate(trees):
        if any(tree.get("split_type") or []):
            raise UnsupportedModel(f"tree {t} has categorical splits")
        lc, rc = tree["left_children"], tree["right_children"]
        base = t * width
        depth = max(depth, _tree_depth(lc, rc))
        for i, (lo, hi) in enumerate(zip(lc, rc, strict=True)):
            at = base + i
            if lo == -1:
                value[at] = tree["split_conditions"][i]
                continue
            feature[at] = tree["split_indices"][i]
            threshold[at] = tree["split_conditions"][i]
            left[at], right[at] = base + lo, base + hi
            default_left[at] = bool(tree["default_left"][i])
    score = _base_score(learner["learner_model_param"]["base_score"])
    if not 0.0 < score < 1.0:
        raise UnsupportedModel(f"base_score {score} is not a probability")
    features = int(learner["learner_model_param"]["num_feature"])
    roots = np.arange(len(trees), dtype=np.intp) * width
    return Forest(
        feature=feature, threshold=threshold, left=left, right=right,
        default_left=default_left, value=value, roots=roots, depth=depth,
        base_margin=math.log(score / (1.0 - score)), features=features,
    )  # fmt: skip


def probe_rows(forest: Forest, count: int = 256, seed: int = 0) -> npt.NDArray[np.float32]:
    """Rows that take every kind of branch: each feature at, just under and just over the
    thresholds the model splits it on, or missing (NaN)."""
    rng = np.random.default_rng(seed)
    splits = forest.left != np.arange(forest.left.size)
    rows = np.full((count, forest.features), np.nan, dtype=np.float32)
    for f in range(forest.features):
        cuts = forest.threshold[splits & (forest.feature == f)]
        if cuts.size == 0:
            rows[:, f] = rng.normal(size=count)
            continue
        near = np.concatenate([cuts, np.nextafter(cuts, -np.inf), np.nextafter(cuts, np.inf)])
        rows[:, f] = rng.choice(near, size=count)
    rows[rng.random(rows.shape) < 0.1] = np.nan
    return rows
