"""META-TREND's primary signal and the meta-model's features: one definition for training, the
backtester and the live runtime.

The primary signal is a vote of three trend rules on each confirmed bar:

* EMA(fast) above EMA(slow) votes +1, below votes -1;
* RSI below ``rsiOversold`` votes +1, above ``rsiOverbought`` votes -1;
* MACD above its signal line votes +1, below -1.

When the net vote reaches ``voteThreshold`` in one direction the *state* is that direction; a
signal fires on the bar the state turns to a direction (a crossover of the vote), with strength
``|net| / 3``. Every column is causal (the backtester's look-ahead guard checks it) and scale
free (ratios to the close, oscillators, returns), so one model serves several symbols.

``funding_rate`` is not a candle column: it is the last settled funding rate at the bar's close
(0 for spot), read from ``MarketView.funding_rates`` live and in the backtester, and from the
funding history in training (``funding_at``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from engine_runtime import indicators as ta
from engine_runtime import windows
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

from .frame import Frame, features_like, open_times_ms

if TYPE_CHECKING:
    import pandas as pd

FEATURE_SET_VERSION = 1
"""Bumped whenever a feature's definition or the order below changes: a model trained on
another version is refused."""

SMA_PERIOD = 50
STOCH_PERIOD, STOCH_SMOOTH = 14, 3
BOLLINGER_PERIOD = 20
VOLUME_PERIOD = 20
OBV_PERIOD = 10

MODEL_FEATURES: tuple[str, ...] = (
    "signal",
    "strength",
    "ema_spread",
    "close_ema_slow",
    "close_sma",
    "rsi",
    "macd_rel",
    "macd_hist_rel",
    "stoch_k",
    "stoch_d",
    "atr_rel",
    "bb_width",
    "obv_slope",
    "volume_ratio",
    "volume_ratio_fast",
    "ret_1",
    "ret_5",
    "ret_20",
    "funding_rate",
    "hour_sin",
    "hour_cos",
    "dow_sin",
    "dow_cos",
)
"""The meta-model's inputs, in the order the model was trained on."""

CANDLE_FEATURES = tuple(f for f in MODEL_FEATURES if f != "funding_rate")


def signal_params(params: MetaTrendParams) -> dict[str, str | int]:
    """The parameters the features depend on, as the artifact's manifest records them."""
    return {
        "emaFast": params.ema_fast,
        "emaSlow": params.ema_slow,
        "rsiPeriod": params.rsi_period,
        "rsiOversold": str(params.rsi_oversold),
        "rsiOverbought": str(params.rsi_overbought),
        "macdFast": params.macd_fast,
        "macdSlow": params.macd_slow,
        "macdSignal": params.macd_signal,
        "voteThreshold": params.vote_threshold,
        "atrPeriod": params.atr_period,
        "interval": params.interval.value,
    }


def warmup_bars(params: MetaTrendParams) -> int:
    """Bars before every feature is defined and the EMAs no longer depend on where the window
    starts (four times the longest EMA: the live window and the full history then agree)."""
    longest = max(params.ema_slow, params.macd_slow + params.macd_signal)
    return max(4 * longest, SMA_PERIOD + 1, 21 + 1, params.rsi_period * 4)


def primary_signal(
    close: npt.ArrayLike, params: MetaTrendParams
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(signal, strength)`` per bar: signal +1/-1 on the bar the vote turns to a direction,
    0 elsewhere; strength ``|net vote| / 3`` on signal bars, 0 elsewhere."""
    c = np.asarray(close, dtype=np.float64)
    fast, slow = ta.ema(c, params.ema_fast), ta.ema(c, params.ema_slow)
    rsi = ta.rsi(c, params.rsi_period)
    line, signal_line = ta.macd(c, params.macd_fast, params.macd_slow, params.macd_signal)
    with np.errstate(invalid="ignore"):
        rsi_vote = np.where(rsi < float(params.rsi_oversold), 1.0, 0.0) - np.where(
            rsi > float(params.rsi_overbought), 1.0, 0.0
        )
    net = np.sign(fast - slow) + rsi_vote + np.sign(line - signal_line)
    state = np.where(np.abs(net) >= params.vote_threshold, np.sign(net), 0.0)
    previous = np.concatenate(([0.0], state[:-1]))
    fires = (state != 0) & (state != previous)
    return np.where(fires, state, 0.0), np.where(fires, np.abs(net) / 3.0, 0.0)


def compute(candles: Frame, params: MetaTrendParams) -> Frame:
    """The candle features (every model feature but ``funding_rate``), the primary signal, the
    absolute ATR the barriers use, and ``wake`` (1 on signal bars) for the backtester; a pandas
    frame for a pandas frame (training, the backtester), an ``ArrayFrame`` for one (live)."""
    c = np.asarray(candles["close"], dtype=np.float64)
    h, lo = np.asarray(candles["high"], np.float64), np.asarray(candles["low"], np.float64)
    v = np.asarray(candles["volume"], dtype=np.float64)
    signal, strength = primary_signal(c, params)
    fast, slow = ta.ema(c, params.ema_fast), ta.ema(c, params.ema_slow)
    line, signal_line = ta.macd(c, params.macd_fast, params.macd_slow, params.macd_signal)
    k, d = ta.stochastic(h, lo, c, STOCH_PERIOD, STOCH_SMOOTH)
    atr = ta.atr(h, lo, c, params.atr_period)
    obv = ta.obv(c, v)
    vol_sum = windows.rolling_sum(v, OBV_PERIOD)
    vol_avg = ta.sma(v, VOLUME_PERIOD)
    obv_change = np.full(len(c), np.nan)
    obv_change[OBV_PERIOD:] = obv[OBV_PERIOD:] - obv[:-OBV_PERIOD]
    opened = open_times_ms(candles)
    hour = 2 * np.pi * ((opened // 3_600_000) % 24).astype(np.float64) / 24.0
    # 1970-01-01 was a Thursday (3, Monday being 0)
    dow = 2 * np.pi * ((opened // 86_400_000 + 3) % 7).astype(np.float64) / 7.0
    with np.errstate(divide="ignore", invalid="ignore"):
        columns: dict[str, Any] = {
            "signal": signal,
            "strength": strength,
            "ema_spread": (fast - slow) / c,
            "close_ema_slow": c / slow - 1.0,
            "close_sma": c / ta.sma(c, SMA_PERIOD) - 1.0,
            "rsi": ta.rsi(c, params.rsi_period),
            "macd_rel": line / c,
            "macd_hist_rel": (line - signal_line) / c,
            "stoch_k": k,
            "stoch_d": d,
            "atr_rel": atr / c,
            "bb_width": ta.bollinger_width(c, BOLLINGER_PERIOD),
            "obv_slope": np.where(vol_sum > 0, obv_change / vol_sum, 0.0),
            "volume_ratio": np.where(vol_avg > 0, v / vol_avg, 1.0),
            "volume_ratio_fast": np.where(vol_avg > 0, ta.sma(v, 5) / vol_avg, 1.0),
            "ret_1": windows.pct_change(c, 1),
            "ret_5": windows.pct_change(c, 5),
            "ret_20": windows.pct_change(c, 20),
            "hour_sin": np.sin(hour),
            "hour_cos": np.cos(hour),
            "dow_sin": np.sin(dow),
            "dow_cos": np.cos(dow),
            "atr": atr,
            "wake": np.abs(signal),
        }
    return features_like(candles, columns)


def funding_at(close_ms: npt.ArrayLike, funding: pd.DataFrame | None) -> npt.NDArray[np.float64]:
    """The last funding rate settled at or before each close time (0 before the first, and
    without a funding history): what ``MarketView.funding_rates(symbol, 1)`` gives live."""
    times = np.asarray(close_ms, dtype=np.int64)
    if funding is None or funding.empty:
        return np.zeros(len(times))
    import pandas as pd  # training's funding history is a pandas frame

    settled = pd.DatetimeIndex(funding.index).as_unit("ms").asi8
    rates = funding["rate"].to_numpy(np.float64)
    at = np.searchsorted(settled, times, side="right") - 1
    return np.where(at >= 0, rates[np.clip(at, 0, None)], 0.0)


def model_row(values: Mapping[str, float], funding_rate: float) -> list[float]:
    """One bar's inputs in MODEL_FEATURES order: the live strategy's and the backtester's."""
    return [funding_rate if f == "funding_rate" else values[f] for f in MODEL_FEATURES]


def model_matrix(
    frame: pd.DataFrame, funding_rate: Sequence[float] | npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """The inputs of many bars (training): ``compute``'s columns plus the funding rate."""
    matrix = frame.loc[:, list(CANDLE_FEATURES)].to_numpy(np.float64)
    at = MODEL_FEATURES.index("funding_rate")
    out: npt.NDArray[np.float32] = np.insert(
        matrix, at, np.asarray(funding_rate, np.float64), axis=1
    ).astype(np.float32)
    return out
