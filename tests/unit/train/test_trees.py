"""The numpy trees give XGBoost's own probabilities, and a model they cannot read is refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost

from engine_runtime.train import artifact, trees

pytestmark = pytest.mark.unit
FEATURES = 9


def booster(depth: int, rounds: int = 120, objective: str = "binary:logistic") -> Any:
    rng = np.random.default_rng(depth)
    x = rng.normal(size=(2000, FEATURES)).astype(np.float32)
    x[rng.random(x.shape) < 0.15] = np.nan  # missing values: the default_left branches
    signal = np.nan_to_num(x[:, 0]) * np.nan_to_num(x[:, 4]) + np.nan_to_num(x[:, 7])
    y = (signal + rng.normal(size=len(x)) * 0.5 > 0).astype(np.int64)
    params = {"objective": objective, "max_depth": depth, "eta": 0.1, "nthread": 1, "seed": 1}
    return xgboost.train(params, xgboost.DMatrix(x, label=y), rounds)


def rows(seed: int, count: int = 1500) -> np.ndarray[Any, np.dtype[np.float32]]:
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(count, FEATURES)) * 1.5).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    return x


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_the_trees_give_the_boosters_probabilities(depth: int) -> None:
    b = booster(depth)
    forest = trees.parse(json.loads(b.save_raw("json")))
    assert forest.depth == depth
    for x in (rows(depth), trees.probe_rows(forest)):
        reference = b.inplace_predict(x)
        assert np.max(np.abs(forest.probabilities(x) - reference)) < 1e-6
        singles = np.array([forest.probability(r) for r in x[:300]])
        assert np.max(np.abs(singles - reference[:300])) < 1e-6
    # and the predictions are not all alike, so agreement means something
    assert np.std(b.inplace_predict(rows(0))) > 0.1


def test_the_probe_sits_on_both_sides_of_every_threshold() -> None:
    forest = trees.parse(json.loads(booster(3).save_raw("json")))
    probe = trees.probe_rows(forest)
    splits = forest.left != np.arange(forest.left.size)
    for f in range(FEATURES):
        cuts = forest.threshold[splits & (forest.feature == f)]
        if cuts.size:
            column = probe[:, f]
            assert np.isnan(column).any()
            assert (column[~np.isnan(column)] < cuts.max()).any()
            assert (column[~np.isnan(column)] >= cuts.min()).any()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["learner"]["objective"].update(name="reg:squarederror"), "objective"),
        (lambda m: m["learner"]["gradient_booster"].update(name="dart"), "booster"),
        (lambda m: m["learner"]["gradient_booster"]["model"]["trees"][0].update(
            split_type=[1] * len(m["learner"]["gradient_booster"]["model"]["trees"][0][
                "split_type"])), "categorical"),
        (lambda m: m["learner"]["learner_model_param"].update(base_score="[0E0]"), "base_score"),
    ],
)  # fmt: skip
def test_what_the_trees_do_not_evaluate_is_refused(edit: Any, message: str) -> None:
    model = json.loads(booster(2, rounds=5).save_raw("json"))
    edit(model)
    with pytest.raises(trees.UnsupportedModel, match=message):
        trees.parse(model)


def test_a_model_whose_trees_disagree_with_xgboost_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_bytes = bytes(booster(3).save_raw("json"))
    loaded = artifact.MetaModel(artifact.Artifact(Path("."), {}, model_bytes))
    assert loaded.forest.depth == 3
    real_parse = trees.parse

    def off_by_a_split(model: Any) -> trees.Forest:
        forest = real_parse(model)
        return dataclasses.replace(forest, threshold=forest.threshold + np.float32(0.25))

    monkeypatch.setattr(trees, "parse", off_by_a_split)
    with pytest.raises(artifact.ArtifactError, match="away from XGBoost"):
        artifact.MetaModel(artifact.Artifact(Path("."), {}, model_bytes))
