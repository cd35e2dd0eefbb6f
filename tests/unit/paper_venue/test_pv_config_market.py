"""Configuration (including the documented example), candle files, kline aggregation."""

from __future__ import annotations

import re
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest
import yaml

from paper_venue.config import VenueSettings
from paper_venue.router.feed import CandleReplay
from paper_venue.router.market import Market
from paper_venue.router.venue import Venue

DOC = Path(__file__).resolve().parents[3] / "docs" / "paper-venue.md"
TICKS = {"BTCUSDT": D("0.1")}


@pytest.mark.unit
def test_the_documented_example_config_is_valid() -> None:
    text = DOC.read_text()
    block = re.search(r"## Configuration.*?```yaml\n(.*?)```", text, re.S)
    assert block is not None
    settings = VenueSettings.model_validate(yaml.safe_load(block.group(1)))
    assert settings.rate_limits.overrides == {"/v5/order/create": 20}


@pytest.mark.unit
def test_unknown_config_keys_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "venue.yaml"
    path.write_text("feed:\n  kind: random_walk\n  volatilty: 0.1\n")
    with pytest.raises(ValueError, match="volatilty"):
        VenueSettings.load(path)


@pytest.mark.unit
def test_candles_from_parquet_with_a_symbol_column(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": [0, 60_000, 0, 60_000],
            "open": [100.0, 101.0, 10.0, 11.0],
            "high": [102.0, 103.0, 12.0, 13.0],
            "low": [99.0, 100.0, 9.0, 10.0],
            "close": [101.0, 102.0, 11.0, 12.0],
            "symbol": ["BTCUSDT", "BTCUSDT", "SOLUSDT", "SOLUSDT"],
        }
    )
    path = tmp_path / "candles.parquet"
    frame.to_parquet(path)
    settings = VenueSettings.model_validate(
        {"feed": {"kind": "candles", "candles_path": str(path)}}
    ).feed
    replay = CandleReplay(settings, origin_ms=0, ticks={"BTCUSDT": D("0.1"), "SOLUSDT": D("0.01")})
    assert replay.symbols() == ["BTCUSDT", "SOLUSDT"]
    assert replay.price_at("BTCUSDT", 60_000) == D(101)
    assert replay.price_at("SOLUSDT", 10**9) == D(12)


class Linear:
    def price_at(self, symbol: str, ts_ms: int) -> D:
        return D(60000) + D(ts_ms) / D(60_000)


@pytest.mark.unit
def test_klines_aggregate_one_minute_bars_newest_first() -> None:
    market = Market(Linear(), TICKS, now_ms=30 * 60_000, backfill_minutes=30)
    bars = market.klines("BTCUSDT", "15", None, None, 10)
    assert [b.start_ms for b in bars] == [30 * 60_000, 15 * 60_000, 0]
    assert bars[1].open == D(60015)
    assert bars[1].close >= D("60029.7")
    assert bars[1].high == bars[1].close
    assert bars[1].low == bars[1].open
    assert market.klines("BTCUSDT", "1", 0, 2 * 60_000, 10)[0].start_ms == 2 * 60_000
    day = market.klines("BTCUSDT", "D", None, None, 5)
    assert len(day) == 1


@pytest.mark.unit
def test_accounts_bootstrap_file(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        "master:\n  username: boss\n  uid: 1\n"
        "  keys: [{key: BOSSKEY0001, secret: BOSSSECRET000000001}]\n"
        "subaccounts:\n  - username: fleet1\n    balances: {USDT: '123.5'}\n"
        "    keys: [{key: FLEETKEY001, secret: FLEETSECRET00000001, read_only: true}]\n"
    )
    config = tmp_path / "venue.yaml"
    config.write_text(f"accounts_file: {accounts}\nfeed: {{backfill_minutes: 0}}\n")
    venue = Venue(VenueSettings.load(config))
    assert venue.master_uid() == 1
    key = venue.keys["FLEETKEY001"]
    assert key.read_only
    assert venue.account(key.uid).balance("USDT") == D("123.5")
    assert "PAPERMASTERKEY0001" not in venue.keys
