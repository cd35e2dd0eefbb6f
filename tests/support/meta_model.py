"""A small META-TREND model artifact, written the way training writes one (``artifact.write``):
a booster fitted on generated rows whose outcome follows feature 2, for the default parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine_runtime.strategies import meta_trend_features as mf
from engine_runtime.strategies.meta_trend_model import expected
from engine_runtime.train import artifact
from engine_runtime.train.model import fit
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams


def small_model_bytes() -> bytes:
    """The booster's JSON: depth 2, 20 rounds, trained on 300 rows (seeded)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, len(mf.MODEL_FEATURES))).astype(np.float32)
    y = (x[:, 2] > 0).astype(np.int64)
    booster = fit(x, y, {"max_depth": 2, "eta": 0.1, "rounds": 20}, seed=1)
    return bytes(booster.save_raw("json"))


def write_artifact(
    directory: Path, model_bytes: bytes, params: MetaTrendParams | None = None
) -> Path:
    """``directory`` holding the published artifact for ``params`` (default parameters)."""
    e = expected(params or MetaTrendParams())
    manifest = {"strategy": "meta-trend", "features": list(e.features),
                "featureSetVersion": e.feature_set_version, "signalParams": dict(e.signal_params),
                "labelParams": dict(e.label_params), "metrics": {}}  # fmt: skip
    return artifact.write(directory, model_bytes, manifest)
