"""The artifact loader refuses what the strategy cannot trust, naming it, and runs no code."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine_runtime.strategies import meta_trend_features as mf
from engine_runtime.strategies.meta_trend_model import expected, load_strategy
from engine_runtime.train import artifact
from engine_runtime.train.model import fit
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

pytestmark = pytest.mark.unit
PARAMS = MetaTrendParams()


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, len(mf.MODEL_FEATURES))).astype(np.float32)
    y = (x[:, 2] > 0).astype(np.int64)
    booster = fit(x, y, {"max_depth": 2, "eta": 0.1, "rounds": 20}, seed=1)
    return bytes(booster.save_raw("json"))


@pytest.fixture
def good(tmp_path: Path, model_bytes: bytes) -> Iterator[Path]:
    e = expected(PARAMS)
    manifest = {"strategy": "meta-trend", "features": list(e.features),
                "featureSetVersion": e.feature_set_version, "signalParams": dict(e.signal_params),
                "labelParams": dict(e.label_params), "metrics": {}}  # fmt: skip
    return artifact.write(tmp_path / "model", model_bytes, manifest)


def edit_manifest(directory: Path, **changes: object) -> None:
    path = directory / artifact.MANIFEST
    body = json.loads(path.read_text())
    body.update(changes)
    path.write_text(json.dumps(body))


def refused(directory: Path, params: MetaTrendParams = PARAMS) -> str:
    with pytest.raises(artifact.ArtifactError) as caught:
        artifact.load(directory, expected(params))
    return str(caught.value)


def test_a_good_artifact_loads_and_predicts(good: Path) -> None:
    verified = artifact.load(good, expected(PARAMS))
    model = artifact.MetaModel(verified)
    row = [0.0] * len(mf.MODEL_FEATURES)
    row[2] = 1.0
    assert model.probability(row) > 0.5
    row[2] = -1.0
    assert model.probability(row) < 0.5
    assert load_strategy(PARAMS, ["BTCUSDT"], good).start_problem() is None


def test_a_tampered_model_is_refused_by_its_hash(good: Path) -> None:
    path = good / artifact.MODEL
    body = json.loads(path.read_bytes())
    body["learner"]["learner_model_param"]["base_score"] = "[9E-1]"  # still a valid model
    path.write_bytes(json.dumps(body).encode())
    assert "sha256" in refused(good)
    assert "not the one trained" in refused(good)


def test_reordered_features_are_refused_naming_the_position(good: Path) -> None:
    features = list(mf.MODEL_FEATURES)
    features[3], features[4] = features[4], features[3]
    edit_manifest(good, features=features)
    assert refused(good) == (
        f"feature order differs at position 3: the artifact has {features[3]!r}, the strategy "
        f"computes {mf.MODEL_FEATURES[3]!r}"
    )


def test_missing_features_wrong_versions_and_other_params_are_refused(good: Path) -> None:
    edit_manifest(good, featureSetVersion=mf.FEATURE_SET_VERSION + 1)
    assert "feature-set version" in refused(good)
    edit_manifest(good, featureSetVersion=mf.FEATURE_SET_VERSION, formatVersion=99)
    assert "format version" in refused(good)
    edit_manifest(good, formatVersion=artifact.FORMAT_VERSION, features=["rsi"])
    assert "feature list differs" in refused(good)
    edit_manifest(good, features=list(mf.MODEL_FEATURES))
    message = refused(good, MetaTrendParams(emaSlow=30))
    assert "primary-signal parameters differ" in message
    assert "emaSlow 21 != 30" in message
    assert "stopLossAtr" in refused(good, MetaTrendParams(stopLossAtr=1.5))


def test_the_strategy_carries_the_reason_instead_of_a_model(good: Path) -> None:
    edit_manifest(good, featureSetVersion=0)
    strategy = load_strategy(PARAMS, ["BTCUSDT"], good)
    assert strategy.model is None
    assert "feature-set version" in (strategy.start_problem() or "")
    assert "EE_MODEL_DIR is not set" in (load_strategy(PARAMS, ["BTCUSDT"]).start_problem() or "")


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path("/nonexistent-never-created").mkdir, ())  # type: ignore[return-value]


def test_the_loader_never_unpickles(good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loader unpickled something")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    artifact.MetaModel(artifact.load(good, expected(PARAMS)))  # a real load: no pickle at all
    payload = pickle.dumps(_Boom())
    (good / artifact.MODEL).write_bytes(payload)
    edit_manifest(good, modelSha256=artifact.sha256_hex(payload))
    assert "model.json is not JSON" in refused(good)
    assert not Path("/nonexistent-never-created").exists()


def test_a_missing_file_is_named(good: Path) -> None:
    (good / artifact.MODEL).unlink()
    assert refused(good).endswith("model.json is missing")
    shutil.rmtree(good)
    assert refused(good).endswith("manifest.json is missing")
