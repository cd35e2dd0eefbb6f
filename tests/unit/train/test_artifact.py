"""The artifact loader refuses what the strategy cannot trust, naming it, and runs no code."""

from __future__ import annotations

import base64
import json
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine_runtime.strategies import meta_trend_features as mf
from engine_runtime.strategies.meta_trend_model import expected, load_strategy
from engine_runtime.train import artifact, trees
from engine_runtime.train.model import predict
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams
from support.meta_model import small_model_bytes, write_artifact

pytestmark = pytest.mark.unit
PARAMS = MetaTrendParams()


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return small_model_bytes()


@pytest.fixture
def good(tmp_path: Path, model_bytes: bytes) -> Iterator[Path]:
    return write_artifact(tmp_path / "model", model_bytes)


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


LOAD_IN_A_FRESH_PROCESS = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from engine_runtime.strategies.meta_trend_model import load_strategy
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams
strategy = load_strategy(MetaTrendParams(), ["BTCUSDT"], sys.argv[1])
held = {m.split(".")[0] for m, module in sys.modules.items() if module is not None}
print(json.dumps({"problem": strategy.start_problem(), "xgboost": "xgboost" in held,
                  "scipy": "scipy" in held}))
"""


def load_in_a_fresh_process(directory: Path) -> tuple[dict[str, object], str]:
    """What a runtime's start does with the artifact: its problem (if any), and whether it loaded
    xgboost or scipy; with the log it wrote."""
    done = subprocess.run([sys.executable, "-c", LOAD_IN_A_FRESH_PROCESS, str(directory)],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return json.loads(done.stdout), done.stderr


def probe_of(directory: Path) -> dict[str, object]:
    probe: dict[str, object] = json.loads((directory / artifact.MANIFEST).read_text())["probe"]
    return probe


def test_a_new_artifact_records_the_boosters_scores_and_loads_without_xgboost(
    good: Path, model_bytes: bytes
) -> None:
    probe = probe_of(good)
    forest = trees.parse(json.loads(model_bytes))
    rows = trees.probe_rows(forest)
    assert probe["shape"] == [256, len(mf.MODEL_FEATURES)]
    assert base64.b64decode(str(probe["rows"])) == rows.astype("<f4").tobytes()
    booster = __import__("xgboost").Booster(model_file=bytearray(model_bytes))
    assert probe["probabilities"] == [float(p) for p in predict(booster, rows)]
    loaded, log = load_in_a_fresh_process(good)
    assert loaded == {"problem": None, "xgboost": False, "scipy": False}
    assert "records no probe scores" not in log


def test_an_altered_recorded_score_is_refused_naming_the_row(good: Path) -> None:
    probe = probe_of(good)
    scores = list(probe["probabilities"])  # type: ignore[call-overload]
    scores[7] += 1e-4  # the model's sha256 still holds: only the probe check can tell
    edit_manifest(good, probe={**probe, "probabilities": scores})
    verified = artifact.load(good, expected(PARAMS))
    with pytest.raises(artifact.ArtifactError) as caught:
        artifact.MetaModel(verified)
    message = str(caught.value)
    assert "away from the probabilities the artifact records (probe row 7:" in message
    assert message.endswith("the model is not used")
    problem = load_strategy(PARAMS, ["BTCUSDT"], good).start_problem() or ""
    assert "probe row 7" in problem


def test_altered_probe_rows_or_a_malformed_probe_are_refused(good: Path) -> None:
    probe = probe_of(good)
    rows = np.frombuffer(base64.b64decode(str(probe["rows"])), dtype="<f4").copy()
    rows[:] = 0.0  # every row down the same branches: the recorded scores no longer follow
    edit_manifest(good, probe={**probe, "rows": base64.b64encode(rows.tobytes()).decode()})
    with pytest.raises(artifact.ArtifactError, match="away from the probabilities"):
        artifact.MetaModel(artifact.load(good, expected(PARAMS)))
    for broken, message in (
        ({**probe, "shape": [256, 3]}, "has 3 features"),
        ({**probe, "probabilities": [0.5]}, "probabilities are not 256 numbers"),
        ({**probe, "rows": "not base64!"}, "rows are not base64"),
        ([], "probe is not an object"),
    ):
        edit_manifest(good, probe=broken)
        with pytest.raises(artifact.ArtifactError, match=message):
            artifact.MetaModel(artifact.load(good, expected(PARAMS)))


def test_an_artifact_without_a_recorded_probe_loads_through_the_booster(good: Path) -> None:
    path = good / artifact.MANIFEST
    body = json.loads(path.read_text())
    del body["probe"]  # as every artifact written before the probe was recorded
    path.write_text(json.dumps(body))
    loaded, log = load_in_a_fresh_process(good)
    assert loaded["problem"] is None
    assert loaded["xgboost"] is True
    assert "records no probe scores" in log
    assert "checking its trees against XGBoost's booster" in log
