"""META-TREND's model at start: what the strategy expects of an artifact, and the strategy
built with the verified model (or with the reason it has none, and so will not trade)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine_runtime.train import artifact
from eternal_kernel.api.v1alpha1.strategy_params import MODEL_DIR_ENV, MetaTrendParams

from . import meta_trend_features as mf
from .meta_trend import MetaTrendStrategy


def label_params(params: MetaTrendParams) -> dict[str, Any]:
    """The barrier parameters the labels (and so the model's meaning) depend on."""
    return {
        "takeProfitAtr": str(params.take_profit_atr),
        "stopLossAtr": str(params.stop_loss_atr),
        "timeBarrierBars": params.time_barrier_bars,
        "category": params.category.value,
    }


def expected(params: MetaTrendParams) -> artifact.Expected:
    """What an artifact must have been trained on to serve a strategy with ``params``."""
    return artifact.Expected(
        features=mf.MODEL_FEATURES,
        feature_set_version=mf.FEATURE_SET_VERSION,
        signal_params=mf.signal_params(params),
        label_params=label_params(params),
    )


def load_strategy(
    params: MetaTrendParams, symbols: Sequence[str], model_dir: str | Path | None = None
) -> MetaTrendStrategy:
    """The strategy with the model verified from ``model_dir`` (default ``$EE_MODEL_DIR``).

    A missing or mismatched artifact does not raise here: the strategy carries the reason
    (``start_problem``) and the runtime refuses to start with it, so the Engine shows why.
    """
    where = model_dir or os.environ.get(MODEL_DIR_ENV)
    if not where:
        problem = (
            f"no model: {MODEL_DIR_ENV} is not set (params.metaTrend.modelConfigMap names the "
            "ConfigMap with the trained artifact)"
        )
        return MetaTrendStrategy(params=params, symbols=tuple(symbols), model_problem=problem)
    try:
        verified = artifact.load(where, expected(params))
        model = artifact.MetaModel(verified)
    except artifact.ArtifactError as error:
        problem = f"model artifact in {where} refused: {error}"
        return MetaTrendStrategy(params=params, symbols=tuple(symbols), model_problem=problem)
    return MetaTrendStrategy(params=params, symbols=tuple(symbols), model=model)
