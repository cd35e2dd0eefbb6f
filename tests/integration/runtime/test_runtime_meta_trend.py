"""META-TREND as a real runtime on the paper venue, with a model directory the pipeline wrote.

The model is trained on generated one-minute candles where every rise lasts and every drop is
bought back (a saw-tooth): long signals pay, short signals do not, so on the venue's own market
the model lets long signals through with a confidence above the threshold. The runtime must
verify the artifact, trade those signals with a venue-held stop from the barriers, and refuse
to start on an artifact that does not match what it computes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pybit.unified_trading import HTTP

from engine_runtime.train import artifact
from engine_runtime.train.pipeline import train
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams
from eternal_operator.devtools.processes import stop
from support import rtdb
from support.runtime import VENUE_CONFIG, RuntimeProcess, start_fast_venue
from support.waiting import wait_for

pytestmark = pytest.mark.integration
PARAMS = {"interval": "1", "timeBarrierBars": 20}


def saw_tooth(bars: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = np.where(np.arange(bars) % 60 < 52, 0.0012, -0.006) + rng.normal(0, 0.0008, bars)
    close = 60_000 * np.exp(np.cumsum(steps))
    open_ = np.concatenate(([60_000.0], close[:-1]))
    return pd.DataFrame(
        {"open": open_, "high": np.maximum(open_, close) * 1.0004,
         "low": np.minimum(open_, close) * 0.9996, "close": close,
         "volume": rng.lognormal(2, 0.3, bars)},
        index=pd.date_range("2026-01-01", periods=bars, freq="1min", tz="UTC"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    params = MetaTrendParams.model_validate(PARAMS)
    trained = train({"BTCUSDT": saw_tooth(6000, 1)}, params, seed=3, backtest=False)
    assert trained.metrics["auc"] > 0.8  # the pattern was learnt
    return artifact.write(tmp_path_factory.mktemp("model"), trained.model_bytes, trained.manifest)


def test_trades_confident_signals_with_the_barrier_stop(
    runtime_factory: Callable[..., RuntimeProcess], postgres: str, venue_http: HTTP,
    model_dir: Path,
) -> None:  # fmt: skip
    rt = runtime_factory(name="meta", builtin="meta-trend", extra_params=PARAMS,
                         extra_env={"EE_MODEL_DIR": str(model_dir)})  # fmt: skip
    rt.start()
    rt.wait_ready(90)

    def entered() -> dict[str, object] | None:
        rows = [r for r in rtdb.orders(postgres, "default/meta")
                if r["reason"] == "meta-trend signal" and r["status"] == "Filled"]  # fmt: skip
        return rows[0] if rows else None

    entry = wait_for(entered, 150, "a meta-trend entry to fill")
    assert entry["side"] in ("Buy", "Sell")  # the venue's random walk decides the signal's side
    assert entry["reduce_only"] is False

    def stop_held() -> Decimal | None:
        listed = venue_http.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
        stops = [Decimal(p.get("stopLoss") or 0) for p in listed if Decimal(p["size"] or 0)]
        return stops[0] if stops and stops[0] > 0 else None

    stop = wait_for(stop_held, 30, "the barrier stop on the venue")
    price = Decimal(str(entry["avg_price"]))
    if entry["side"] == "Buy":
        assert 0 < stop < price  # a long's stop sits below the entry
    else:
        assert stop > price  # a short's above it

    def flat() -> bool:
        listed = venue_http.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
        return all(Decimal(p["size"] or 0) == 0 for p in listed)

    wait_for(flat, 60, "a barrier (take-profit, stop or time) to close the trade")
    refusals = rtdb.fetch(postgres, "SELECT * FROM risk_refusals WHERE engine=$1", "default/meta")
    assert not [r for r in refusals if r["check_name"] == "min_confidence"]
    assert "model artifact" not in rt.text()


def test_refuses_to_start_on_a_model_it_cannot_verify(
    runtime_factory: Callable[..., RuntimeProcess], model_dir: Path, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in artifact.PUBLISHED_FILES:
        (tampered / name).write_bytes((model_dir / name).read_bytes())
    manifest = json.loads((tampered / "manifest.json").read_text())
    manifest["features"][0], manifest["features"][1] = (
        manifest["features"][1],
        manifest["features"][0],
    )
    (tampered / "manifest.json").write_text(json.dumps(manifest))
    rt = runtime_factory(name="meta-bad", builtin="meta-trend", extra_params=PARAMS,
                         extra_env={"EE_MODEL_DIR": str(tampered)})  # fmt: skip
    rt.start()
    assert rt.process is not None
    assert rt.process.wait(timeout=60) == 1
    assert "cannot start: model artifact" in rt.text()
    assert "feature order differs at position 0" in rt.text()


def test_trains_from_the_venues_klines_and_funding(tmp_path: Path) -> None:
    """`--venue-url`: the candles (paged, confirmed only) and the funding history come from a
    Bybit-compatible venue; the manifest names them and hashes what was read."""
    url, process = start_fast_venue(
        tmp_path / "venue", VENUE_CONFIG.replace("backfill_minutes: 60", "backfill_minutes: 4000")
    )
    try:
        params = tmp_path / "params.yaml"
        params.write_text("metaTrend:\n  interval: '1'\n  timeBarrierBars: 20\n")
        done = subprocess.run(
            [sys.executable, "-m", "engine_runtime.train", "--venue-url", url, "--symbols",
             "BTCUSDT", "--bars", "3500", "--params", str(params), "--no-backtest", "--out",
             str(tmp_path / "model")],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
    finally:
        stop(process)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    data = manifest["data"]
    assert data["symbols"] == ["BTCUSDT"]
    assert data["bars"] == 3500
    assert data["interval"] == "1"
    assert data["funding"] == ["BTCUSDT"]
    span = pd.Timestamp(data["end"]) - pd.Timestamp(data["start"])
    assert span == pd.Timedelta(minutes=3499)  # consecutive confirmed minutes, no gap, no dup
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["events"] >= 50
