"""The meta-trend model artifact: what training writes, and the one loader that verifies it.

A published artifact is two files (``PUBLISHED_FILES``), small enough for a ConfigMap:

* ``model.json``: the booster in XGBoost's own JSON format (never pickle);
* ``manifest.json``: format name and version, strategy, the ordered feature list and the
  feature-set version, the parameters the features and labels depend on, the training data's
  span, symbols, interval and sha256, the sha256 of ``model.json``, the metrics, and when.

``load`` reads both as data (JSON text; nothing is imported, unpickled or evaluated) and checks
them against what the running strategy computes, raising ``ArtifactError`` naming the first
thing that differs. Only then does ``MetaModel`` hand the verified bytes to XGBoost (imported
here, lazily: no other strategy loads it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

FORMAT = "eternal-engine.meta-trend-model"
FORMAT_VERSION = 1
STRATEGY = "meta-trend"
MANIFEST, MODEL = "manifest.json", "model.json"
PUBLISHED_FILES = (MANIFEST, MODEL)
"""What goes into the ConfigMap (the report stays beside them, unpublished)."""
MAX_PUBLISHED_BYTES = 1_000_000
"""A ConfigMap holds at most 1 MiB; the two files together must fit with room to spare."""


class ArtifactError(ValueError):
    """The artifact cannot be used: the message names what is missing or mismatched."""


@dataclass(frozen=True)
class Expected:
    """What the running strategy computes, that the artifact must have been trained on."""

    features: Sequence[str]
    feature_set_version: int
    signal_params: Mapping[str, Any]
    label_params: Mapping[str, Any]


@dataclass(frozen=True)
class Artifact:
    """A verified artifact: the manifest and the exact bytes whose hash it states."""

    directory: Path
    manifest: Mapping[str, Any]
    model_bytes: bytes

    @property
    def features(self) -> list[str]:
        return list(self.manifest["features"])


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(directory: Path, model_bytes: bytes, manifest: Mapping[str, Any]) -> Path:
    """Write ``model.json`` and ``manifest.json`` (stating the model's hash) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    body = {**manifest, "format": FORMAT, "formatVersion": FORMAT_VERSION,
            "modelSha256": sha256_hex(model_bytes)}  # fmt: skip
    (directory / MODEL).write_bytes(model_bytes)
    (directory / MANIFEST).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    size = sum((directory / name).stat().st_size for name in PUBLISHED_FILES)
    if size > MAX_PUBLISHED_BYTES:
        raise ArtifactError(f"the published files take {size} bytes, over {MAX_PUBLISHED_BYTES}")
    return directory


def _read(directory: Path, name: str) -> bytes:
    path = directory / name
    if not path.is_file():
        raise ArtifactError(f"{path} is missing")
    data = path.read_bytes()
    if len(data) > MAX_PUBLISHED_BYTES:
        raise ArtifactError(f"{path} is {len(data)} bytes, over {MAX_PUBLISHED_BYTES}")
    return data


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{what} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise ArtifactError(f"{what} is not a JSON object")
    return value


def _same(what: str, found: Any, wanted: Any) -> None:
    if found != wanted:
        raise ArtifactError(f"{what}: the artifact has {found!r}, the strategy computes {wanted!r}")


def _same_params(what: str, found: Any, wanted: Mapping[str, Any]) -> None:
    if not isinstance(found, dict):
        raise ArtifactError(f"{what} missing from the manifest")
    keys = sorted(set(found) | set(wanted))
    differ = [f"{k} {found.get(k)!r} != {wanted.get(k)!r}" for k in keys
              if found.get(k) != wanted.get(k)]  # fmt: skip
    if differ:
        raise ArtifactError(f"{what} differ (trained vs params.metaTrend): {'; '.join(differ)}")


def _same_features(found: Any, wanted: Sequence[str]) -> None:
    if not isinstance(found, list) or not all(isinstance(f, str) for f in found):
        raise ArtifactError("manifest features is not a list of names")
    if found == list(wanted):
        return
    if sorted(found) == sorted(wanted):
        at = next(i for i, (a, b) in enumerate(zip(found, wanted, strict=True)) if a != b)
        raise ArtifactError(
            f"feature order differs at position {at}: the artifact has {found[at]!r}, the "
            f"strategy computes {wanted[at]!r}"
        )
    missing, extra = sorted(set(wanted) - set(found)), sorted(set(found) - set(wanted))
    raise ArtifactError(f"feature list differs: missing {missing}, unknown {extra}")


def load(directory: str | Path, expected: Expected) -> Artifact:
    """The verified artifact in ``directory``; ``ArtifactError`` saying what does not match."""
    where = Path(directory)
    manifest = _json_object(_read(where, MANIFEST), MANIFEST)
    model_bytes = _read(where, MODEL)
    _same("format", manifest.get("format"), FORMAT)
    _same("format version", manifest.get("formatVersion"), FORMAT_VERSION)
    _same("strategy", manifest.get("strategy"), STRATEGY)
    _same("feature-set version", manifest.get("featureSetVersion"), expected.feature_set_version)
    _same_features(manifest.get("features"), expected.features)
    _same_params("primary-signal parameters", manifest.get("signalParams"), expected.signal_params)
    _same_params("label (barrier) parameters", manifest.get("labelParams"), expected.label_params)
    digest = sha256_hex(model_bytes)
    if manifest.get("modelSha256") != digest:
        raise ArtifactError(
            f"{MODEL} has sha256 {digest}, the manifest states {manifest.get('modelSha256')}: "
            "the model is not the one trained"
        )
    learner = _json_object(model_bytes, MODEL).get("learner")
    if not isinstance(learner, dict):
        raise ArtifactError(f"{MODEL} is not an XGBoost JSON model (no learner)")
    _same(f"{MODEL} feature names", learner.get("feature_names"), list(expected.features))
    return Artifact(where, manifest, model_bytes)


PROBE_TOLERANCE = 1e-5
"""How far the numpy trees may be from the booster's probability on a probe row."""


class MetaModel:
    """The verified model: the probability that a signal pays, one bar at a time.

    The bars are scored by ``trees.Forest`` (numpy, read from the JSON); the booster, loaded from
    the same verified bytes, is only the reference at load: the two must agree on
    ``trees.probe_rows`` (every threshold, either side of it, and missing values), or the model
    is refused (``ArtifactError``).
    """

    def __init__(self, artifact: Artifact) -> None:
        import numpy as np
        import xgboost

        from . import trees

        self.artifact = artifact
        self._np = np
        try:
            self.forest = trees.parse(_json_object(artifact.model_bytes, MODEL))
        except (trees.UnsupportedModel, KeyError, TypeError, ValueError) as error:
            raise ArtifactError(f"{MODEL} cannot be evaluated: {error}") from None
        booster = xgboost.Booster(params={"nthread": 1})
        booster.load_model(bytearray(artifact.model_bytes))  # JSON, from verified bytes
        probe = trees.probe_rows(self.forest)
        reference = booster.inplace_predict(probe)
        ours = self.forest.probabilities(probe)
        worst = float(np.max(np.abs(ours - reference)))
        if not worst <= PROBE_TOLERANCE:
            raise ArtifactError(
                f"{MODEL}: its trees evaluate up to {worst:.3g} away from XGBoost's own "
                "prediction; the model is not used"
            )

    def probability(self, row: Sequence[float]) -> float:
        return self.forest.probability(self._np.asarray(row, dtype=self._np.float32))

    def probabilities(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return self.forest.probabilities(matrix)
