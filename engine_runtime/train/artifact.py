"""The meta-trend model artifact: what training writes, and the one loader that verifies it.

A published artifact is two files (``PUBLISHED_FILES``), small enough for a ConfigMap:

* ``model.json``: the booster in XGBoost's own JSON format (never pickle);
* ``manifest.json``: format name and version, strategy, the ordered feature list and the
  feature-set version, the parameters the features and labels depend on, the training data's
  span, symbols, interval and sha256, the sha256 of ``model.json``, the metrics, when, and the
  ``probe``: rows that take every branch of the trees and XGBoost's own probability for each,
  scored by the booster when the artifact was written (``probe_record``).

``load`` reads both as data (JSON text; nothing is imported, unpickled or evaluated) and checks
them against what the running strategy computes, raising ``ArtifactError`` naming the first
thing that differs. ``MetaModel`` then evaluates the trees with numpy and checks them against
the recorded probe, so a live runtime never imports XGBoost (nor scipy under it: about 27 MiB).
An artifact written before the probe was recorded is checked against the booster itself, loaded
lazily from the verified bytes, as it was then.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from . import trees

FORMAT = "eternal-engine.meta-trend-model"
FORMAT_VERSION = 1
STRATEGY = "meta-trend"
MANIFEST, MODEL = "manifest.json", "model.json"
PUBLISHED_FILES = (MANIFEST, MODEL)
"""What goes into the ConfigMap (the report stays beside them, unpublished)."""
MAX_PUBLISHED_BYTES = 1_000_000
"""A ConfigMap holds at most 1 MiB; the two files together must fit with room to spare."""


log = logging.getLogger(__name__)


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
            "modelSha256": sha256_hex(model_bytes), PROBE: probe_record(model_bytes)}  # fmt: skip
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
PROBE = "probe"
"""The manifest's key for the probe rows and the booster's probabilities on them."""


def _forest(model_bytes: bytes) -> trees.Forest:
    from . import trees

    try:
        return trees.parse(_json_object(model_bytes, MODEL))
    except (trees.UnsupportedModel, KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"{MODEL} cannot be evaluated: {error}") from None


def _booster_probabilities(
    model_bytes: bytes, rows: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """XGBoost's own probabilities for ``rows`` (imported here: training, or an older artifact)."""
    import numpy as np
    import xgboost

    booster = xgboost.Booster(params={"nthread": 1})
    booster.load_model(bytearray(model_bytes))  # JSON, from verified bytes
    return np.asarray(booster.inplace_predict(rows), dtype=np.float64)


def probe_record(model_bytes: bytes) -> dict[str, Any]:
    """The manifest's ``probe``, at training: ``trees.probe_rows`` (float32, little-endian,
    base64) and the booster's probability for each; the numpy trees must already agree."""
    from . import trees

    forest = _forest(model_bytes)
    rows = trees.probe_rows(forest)
    reference = _booster_probabilities(model_bytes, rows)
    _check(forest, rows, reference, "XGBoost's own prediction")
    return {
        "rows": base64.b64encode(rows.astype("<f4").tobytes()).decode("ascii"),
        "shape": list(rows.shape),
        "probabilities": [float(p) for p in reference],
    }


def _recorded_probe(
    probe: Any, forest: trees.Forest
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The probe rows and probabilities a manifest records, or ``ArtifactError`` naming why not."""
    import numpy as np

    if not isinstance(probe, dict):
        raise ArtifactError(f"manifest {PROBE} is not an object")
    shape, scores = probe.get("shape"), probe.get("probabilities")
    if not (isinstance(shape, list) and len(shape) == 2
            and all(isinstance(n, int) and n > 0 for n in shape)):  # fmt: skip
        raise ArtifactError(f"manifest {PROBE} shape {shape!r} is not [rows, features]")
    if shape[1] != forest.features:
        raise ArtifactError(
            f"manifest {PROBE} has {shape[1]} features, the model {forest.features}"
        )
    if not (isinstance(scores, list) and len(scores) == shape[0]
            and all(isinstance(p, float) for p in scores)):  # fmt: skip
        raise ArtifactError(f"manifest {PROBE} probabilities are not {shape[0]} numbers")
    try:
        raw = base64.b64decode(str(probe.get("rows")), validate=True)
    except ValueError:
        raise ArtifactError(f"manifest {PROBE} rows are not base64") from None
    if len(raw) != shape[0] * shape[1] * 4:
        raise ArtifactError(f"manifest {PROBE} rows are {len(raw)} bytes, not {shape} float32")
    rows = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    return rows, np.asarray(scores, dtype=np.float64)


def _check(
    forest: trees.Forest,
    rows: npt.NDArray[np.float32],
    reference: npt.NDArray[np.float64],
    what: str,
) -> None:
    """Refuse the model unless its numpy trees give ``reference`` on ``rows``."""
    import numpy as np

    gap = np.abs(forest.probabilities(rows) - reference)
    worst = float(np.max(gap))
    if not worst <= PROBE_TOLERANCE:
        at = int(np.argmax(np.nan_to_num(gap, nan=np.inf)))
        raise ArtifactError(
            f"{MODEL}: its trees evaluate up to {worst:.3g} away from {what} (probe row {at}: "
            f"{float(forest.probabilities(rows[at : at + 1])[0]):.9g} against "
            f"{float(reference[at]):.9g}); the model is not used"
        )


class MetaModel:
    """The verified model: the probability that a signal pays, one bar at a time.

    The bars are scored by ``trees.Forest`` (numpy, read from the JSON). At load the trees must
    give the probabilities the manifest's ``probe`` records (XGBoost's own, scored at training)
    within ``PROBE_TOLERANCE``, or the model is refused (``ArtifactError``); XGBoost is not
    imported. An artifact without a recorded probe (written before there was one) is checked
    against the booster, loaded from the same verified bytes, on ``trees.probe_rows``.
    """

    def __init__(self, artifact: Artifact) -> None:
        import numpy as np

        from . import trees

        self.artifact = artifact
        self._np = np
        self.forest = _forest(artifact.model_bytes)
        if PROBE in artifact.manifest:
            rows, reference = _recorded_probe(artifact.manifest[PROBE], self.forest)
            _check(self.forest, rows, reference, "the probabilities the artifact records")
            return
        log.info(
            "model artifact in %s records no probe scores (written before they were): checking "
            "its trees against XGBoost's booster, which this process now loads",
            artifact.directory,
        )
        rows = trees.probe_rows(self.forest)
        _check(self.forest, rows, _booster_probabilities(artifact.model_bytes, rows),
               "XGBoost's own prediction")  # fmt: skip

    def probability(self, row: Sequence[float]) -> float:
        return self.forest.probability(self._np.asarray(row, dtype=self._np.float32))

    def probabilities(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return self.forest.probabilities(matrix)
