"""The training pipeline end to end, through its CLI, on generated data.

With a planted pattern (regimes a trend follower meets differently, told apart by volatility)
the filtered strategy must beat the unfiltered one out of sample, per trade and in the
backtester; on pure noise it must not: nothing to learn, no edge per trade.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine_runtime.backtest.synthetic import regime_candles
from engine_runtime.strategies.meta_trend_model import load_strategy
from engine_runtime.train import artifact
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

pytestmark = pytest.mark.integration
BARS = 6000  # 250 days of hourly candles per symbol


def train(tmp: Path, planted: bool, seed: int = 11) -> tuple[dict[str, Any], Path]:
    paths = []
    for i, symbol in enumerate(("BTCUSDT", "ETHUSDT")):
        path = tmp / f"{symbol}.csv"
        regime_candles(BARS, seed + i, planted=planted, price=30_000 / (1 + 14 * i)).to_csv(path)
        paths.append(f"{symbol}={path}")
    out = tmp / "model"
    done = subprocess.run(
        [sys.executable, "-m", "engine_runtime.train", "--candles", *paths, "--seed", "5",
         "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), out


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return train(tmp_path_factory.mktemp("planted"), planted=True)


def test_on_a_planted_pattern_the_filter_beats_the_unfiltered_strategy(
    planted: tuple[dict[str, Any], Path],
) -> None:
    summary, _ = planted
    assert summary["auc"] > 0.62
    assert summary["precision"] > summary["baseRate"] + 0.1
    filtered, unfiltered = summary["filtered"], summary["unfiltered"]
    assert filtered["trades"] >= 10
    assert filtered["meanReturn"] > max(unfiltered["meanReturn"], 0.0) + 0.002
    assert float(summary["backtest"]["filtered"]) > float(summary["backtest"]["unfiltered"])


def test_the_artifact_is_complete_verifiable_and_deterministic(
    planted: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    _, out = planted
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert manifest["data"]["bars"] == 2 * BARS
    assert len(manifest["data"]["sha256"]) == 64
    assert manifest["metrics"]["backtest"]["filtered"]["trades"] > 0
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 3
    probe = manifest["probe"]  # the booster's scores, for the runtime to check its trees against
    assert len(probe["probabilities"]) == probe["shape"][0] == 256
    assert probe["shape"][1] == len(manifest["features"])
    size = sum((out / f).stat().st_size for f in artifact.PUBLISHED_FILES)
    assert size < artifact.MAX_PUBLISHED_BYTES
    strategy = load_strategy(MetaTrendParams(), ["BTCUSDT", "ETHUSDT"], out)
    assert strategy.start_problem() is None
    assert strategy.model is not None
    _, again = train(tmp_path, planted=True)  # same data, same seed: the same model bytes
    assert (again / "model.json").read_bytes() == (out / "model.json").read_bytes()


def test_on_pure_noise_the_filter_finds_no_edge(tmp_path: Path) -> None:
    summary, _ = train(tmp_path, planted=False)
    assert summary["auc"] < 0.6
    filtered, unfiltered = summary["filtered"], summary["unfiltered"]
    if filtered["trades"]:  # whatever it lets through earns no more per trade than the rest
        assert filtered["meanReturn"] <= max(unfiltered["meanReturn"], 0.0) + 0.001
        assert filtered["meanReturn"] <= 0.0015


def test_unusable_data_exits_2_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    regime_candles(300, 1).to_csv(path)
    done = subprocess.run(
        [sys.executable, "-m", "engine_runtime.train", "--candles", f"BTCUSDT={path}",
         "--out", str(tmp_path / "m")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "too few" in done.stderr
    assert not (tmp_path / "m").exists()
