"""The backtest command runs meta-trend with its model or, for comparison, without the filter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine_runtime.backtest.cli import main
from engine_runtime.backtest.synthetic import regime_candles

pytestmark = pytest.mark.unit


def test_meta_trend_without_the_filter_and_without_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    candles = tmp_path / "btc.csv"
    regime_candles(1500, 4).to_csv(candles)
    common = ["run", "--strategy", "meta-trend", "--candles", f"BTCUSDT:linear={candles}",
              "--symbols", "BTCUSDT", "--no-plot"]  # fmt: skip
    assert main([*common, "--no-filter", "--out", str(tmp_path / "all")]) == 0
    result = json.loads((tmp_path / "all" / "result.json").read_text())
    assert result["stats"]["trades"] > 0
    monkeypatch.delenv("EE_MODEL_DIR", raising=False)
    with pytest.raises(SystemExit, match="no model: EE_MODEL_DIR is not set"):
        main([*common, "--out", str(tmp_path / "filtered")])
