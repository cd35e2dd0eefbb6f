"""A venue on the real-time clock, stopped and started again from its snapshot: its market
time is wall time again, and the funding it missed while down is settled, once each."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from pv_support import ADMIN, SUB_KEY, SUB_SECRET, RawClient, eventually, settings

from paper_venue.clock import Clock
from paper_venue.router.app import PaperVenue

HOUR_MS = 3_600_000
DOWN_MS = 9 * HOUR_MS
LIMIT = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
         "qty": "0.01", "price": "55000"}  # fmt: skip


def real(path: Path) -> PaperVenue:
    return PaperVenue(settings(snapshot_path=str(path), clock={"mode": "real"}))


async def market_now(raw: RawClient) -> int:
    async with raw.session.get(f"{raw.base}/admin/state", headers=ADMIN) as r:
        return int((await r.json())["now_ms"])


def as_if_written_earlier(path: Path, by_ms: int) -> list[int]:
    """Make the snapshot look `by_ms` older (the venue was down that long); the funding
    settlements that fell due in between."""
    data = json.loads(path.read_text())
    data["now_ms"] -= by_ms
    interval = 8 * HOUR_MS
    data["next_funding_ms"] = (data["now_ms"] // interval + 1) * interval
    path.write_text(json.dumps(data))
    return list(range(data["next_funding_ms"], Clock.wall_ms(), interval))


@pytest.mark.integration
async def test_a_restarted_venue_resumes_at_wall_time_and_settles_missed_funding(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.json"
    first = real(path)
    await first.start()
    async with aiohttp.ClientSession() as session:
        raw = RawClient(first.http_url, session, SUB_KEY, SUB_SECRET)
        opened = await raw.post("/v5/order/create", {**LIMIT, "orderType": "Market"})
        assert opened[1]["retCode"] == 0
    await first.stop()
    due = as_if_written_earlier(path, DOWN_MS)
    assert due  # nine hours span at least one settlement

    second = real(path)
    await second.start()
    try:
        async with aiohttp.ClientSession() as session:
            raw = RawClient(second.http_url, session, SUB_KEY, SUB_SECRET)
            server = (await raw.get("/v5/market/time"))[1]["result"]
            assert abs(int(server["timeNano"]) // 1_000_000 - Clock.wall_ms()) < 1000
            assert abs(await market_now(raw) - Clock.wall_ms()) < 1000
            placed = await raw.post("/v5/order/create", {**LIMIT, "orderLinkId": "after"})
            assert placed[1]["retCode"] == 0
            listed = await raw.get("/v5/order/realtime", "category=linear&orderLinkId=after")
            created = int(listed[1]["result"]["list"][0]["createdTime"])
            assert abs(created - Clock.wall_ms()) < 1000
            funding = await raw.get("/v5/execution/list", "category=linear&execType=Funding")
            times = sorted(int(row["execTime"]) for row in funding[1]["result"]["list"])
            assert times == due
            history = await raw.get("/v5/market/funding/history", "category=linear&symbol=BTCUSDT")
            stamps = [int(r["fundingRateTimestamp"]) for r in history[1]["result"]["list"]]
            assert sorted(stamps) == due
    finally:
        await second.stop()


@pytest.mark.integration
async def test_the_snapshot_is_written_while_running_so_a_crash_loses_little(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.json"
    venue = PaperVenue(
        settings(snapshot_path=str(path), snapshot_interval_s=0.2, clock={"mode": "real"})
    )
    await venue.start()
    try:
        async with aiohttp.ClientSession() as session:
            body = {"username": "made-while-running", "balances": {"USDT": "7"}}
            async with session.post(
                f"{venue.http_url}/admin/accounts", json=body, headers=ADMIN
            ) as r:
                assert r.status == 200

        def saved() -> bool:
            return path.exists() and "made-while-running" in path.read_text()

        await eventually(saved, within=5, what="the periodic snapshot")
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        await venue.stop()
