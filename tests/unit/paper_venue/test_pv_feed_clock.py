"""Price sources and the clock."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from paper_venue.clock import Clock, ClockMode
from paper_venue.config import FeedSettings
from paper_venue.router.feed import CandleReplay, RandomWalk, ScriptedPath
from paper_venue.router.market import Market

TICKS = {"BTCUSDT": D("0.1"), "ETHUSDT": D("0.01"), "SOLUSDT": D("0.01")}


@pytest.mark.unit
def test_random_walk_is_reproducible_and_on_tick() -> None:
    a = RandomWalk(FeedSettings(), seed=1, origin_ms=0, ticks=TICKS)
    b = RandomWalk(FeedSettings(), seed=1, origin_ms=0, ticks=TICKS)
    c = RandomWalk(FeedSettings(), seed=2, origin_ms=0, ticks=TICKS)
    times = [0, 5_000, 3_600_000, 86_400_000]
    pa = [a.price_at("BTCUSDT", t) for t in times]
    assert pa == [b.price_at("BTCUSDT", t) for t in reversed(times)][::-1]
    assert pa != [c.price_at("BTCUSDT", t) for t in times]
    assert all(p % D("0.1") == 0 for p in pa)
    assert pa[0] == D(60000)


@pytest.mark.unit
def test_scripted_path_interpolates_linearly() -> None:
    settings = FeedSettings(script={"BTCUSDT": [(0, D(1)), (600_000, D("0.7"))]})
    path = ScriptedPath(settings, origin_ms=1000, ticks=TICKS)
    assert path.price_at("BTCUSDT", 1000) == D(60000)
    assert path.price_at("BTCUSDT", 301_000) == D(51000)
    assert path.price_at("BTCUSDT", 10_000_000) == D(42000)
    assert path.price_at("ETHUSDT", 5000) == D(3000)


@pytest.mark.unit
def test_candle_replay_from_csv(tmp_path: Path) -> None:
    csv = tmp_path / "btc.csv"
    csv.write_text(
        "timestamp,open,high,low,close,volume\n1000000,100,110,95,105,1\n1060000,105,106,90,92,1\n"
    )
    replay = CandleReplay(
        FeedSettings(kind="candles", candles_path=csv, candles_symbol="BTCUSDT"),
        origin_ms=0,
        ticks=TICKS,
    )
    assert replay.price_at("BTCUSDT", 0) == D(100)
    assert replay.price_at("BTCUSDT", 20_000) == D(95)
    assert replay.price_at("BTCUSDT", 40_000) == D(110)
    assert replay.price_at("BTCUSDT", 10_000_000) == D(92)


@pytest.mark.unit
def test_market_pause_and_move_and_klines() -> None:
    path = ScriptedPath(FeedSettings(script={"BTCUSDT": [(0, D(1)), (600_000, D(2))]}), 0, TICKS)
    market = Market(path, TICKS, now_ms=0, backfill_minutes=0)
    market.pause("BTCUSDT", True, 0)
    market.update(300_000)
    assert market.price("BTCUSDT") == D(60000)
    market.pause("BTCUSDT", False, 300_000)
    market.update(300_000)
    assert market.price("BTCUSDT") == D(60000)
    market.move("BTCUSDT", D(50000), 300_000)
    assert market.price("BTCUSDT") == D(50000)
    bars = market.klines("BTCUSDT", "5", None, None, 10)
    assert bars[0].start_ms == 300_000
    assert bars[0].low == D(50000)


@pytest.mark.unit
def test_stepped_and_accelerated_clocks() -> None:
    stepped = Clock(ClockMode.STEPPED, start_ms=1000)
    assert stepped.now_ms() == 1000
    assert stepped.advance(500) == 1500
    with pytest.raises(ValueError, match="backwards"):
        stepped.advance(-1)
    fast = Clock(ClockMode.ACCELERATED, speed=1000, start_ms=0)
    assert fast.now_ms() >= 0
    with pytest.raises(ValueError, match="stepped"):
        fast.advance(1)


@pytest.mark.unit
def test_price_changes_carry_synthetic_market_volume() -> None:
    path = ScriptedPath(
        FeedSettings(script={"BTCUSDT": [(0, D(1)), (600_000, D("1.1"))]}), 0, TICKS
    )
    market = Market(path, TICKS, 0, 0, trade_notional=D(6000), qty_steps={"BTCUSDT": D("0.001")})
    for t in range(1000, 61_000, 1000):
        market.update(t)
    st = market.states["BTCUSDT"]
    assert st.synthetic_trade is not None
    assert st.synthetic_trade[1] == "Buy"
    assert D("0.09") <= st.synthetic_trade[0] < D("0.2")
    assert sum(b.volume for b in st.bars) > D(5)
