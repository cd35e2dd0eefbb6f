"""The venue as its own process (`python -m paper_venue`), traded on with
pybit, HTTP and WebSocket, exactly as a runtime would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from pv_support import ADMIN, ADMIN_TOKEN
from pybit import unified_trading
from pybit.unified_trading import HTTP, WebSocket

from paper_venue.config import DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
async def venue_url(tmp_path: Path) -> AsyncIterator[str]:
    async with venue_process(tmp_path, PAPER_VENUE_ADMIN_TOKEN=ADMIN_TOKEN) as (url, _):
        yield url


@contextlib.asynccontextmanager
async def venue_process(
    tmp_path: Path, **env: str
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`python -m paper_venue` with `env` added; yields its URL and process,
    and checks it stopped cleanly on SIGTERM."""
    config = tmp_path / "venue.yaml"
    config.write_text("clock:\n  mode: accelerated\n  speed: 10\nfeed:\n  backfill_minutes: 10\n")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "paper_venue",
        "--port",
        "0",
        "--config",
        str(config),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        text = line.decode().strip()
        assert text.startswith("paper venue listening on http://127.0.0.1:"), text
        yield text.rsplit(" ", 1)[1], proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0


def subscribed_by(url: str, topic: str, within: float = 10.0) -> None:
    """Poll the admin state until a connection holds `topic` (the ack is asynchronous)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        state = requests.get(f"{url}/admin/state", headers=ADMIN, timeout=5).json()
        if any(topic in ws["topics"] for ws in state["websockets"]):
            return
        time.sleep(0.01)
    raise AssertionError(f"no subscription to {topic}")


def trade(url: str) -> dict[str, Any]:
    http = HTTP(api_key=DEFAULT_MASTER_KEY, api_secret=DEFAULT_MASTER_SECRET, max_retries=1)
    http.endpoint = url
    got: list[dict[str, Any]] = []
    ws_base = url.replace("http://", "ws://")
    saved = unified_trading.PRIVATE_WSS
    unified_trading.PRIVATE_WSS = f"{ws_base}/v5/private"
    try:
        ws = WebSocket(
            channel_type="private",
            testnet=False,
            api_key=DEFAULT_MASTER_KEY,
            api_secret=DEFAULT_MASTER_SECRET,
            retries=3,
        )
    finally:
        unified_trading.PRIVATE_WSS = saved
    try:
        ws.execution_stream(got.append)
        subscribed_by(url, "execution")
        last = float(
            http.get_tickers(category="linear", symbol="ETHUSDT")["result"]["list"][0]["lastPrice"]
        )
        out = {
            "place": http.place_order(
                category="linear",
                symbol="ETHUSDT",
                side="Sell",
                orderType="Limit",
                qty="0.1",
                price=f"{last * 1.05:.2f}",
                orderLinkId="proc-1",
            ),
            "cancel": http.cancel_order(category="linear", symbol="ETHUSDT", orderLinkId="proc-1"),
            "market": http.place_order(
                category="spot", symbol="SOLUSDT", side="Buy", orderType="Market", qty="50"
            ),
            "transfer": http.create_universal_transfer(
                transferId=str(uuid.uuid4()),
                coin="USDT",
                amount="1",
                fromMemberId=100000,
                toMemberId=100002,
                fromAccountType="UNIFIED",
                toAccountType="UNIFIED",
            ),
        }
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        out["executions"] = got
        out["wallet"] = http.get_wallet_balance(accountType="UNIFIED", coin="SOL")
        return out
    finally:
        ws.exit()


@pytest.mark.integration
async def test_trading_on_the_venue_process_with_pybit(venue_url: str) -> None:
    out = await asyncio.to_thread(trade, venue_url)
    assert out["place"]["retCode"] == out["cancel"]["retCode"] == out["market"]["retCode"] == 0
    assert out["transfer"]["result"]["status"] == "SUCCESS"
    assert out["executions"]
    assert out["executions"][0]["data"][0]["symbol"] == "SOLUSDT"
    coins = out["wallet"]["result"]["list"][0]["coin"]
    assert coins[0]["coin"] == "SOL"
    assert float(coins[0]["walletBalance"]) > 0


@pytest.mark.integration
async def test_without_a_token_the_venue_makes_one_and_logs_only_where(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with venue_process(tmp_path, PAPER_VENUE_DATA_DIR=str(data)) as (url, proc):
        token_file = data / "admin-token"
        token = token_file.read_text().strip()
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert len(token) >= 32
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/admin/state") as refused:
                assert refused.status == 401
            async with session.get(f"{url}/admin/state", headers={"X-Admin-Token": token}) as ok:
                assert ok.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        log = (await asyncio.wait_for(proc.stderr.read(), timeout=30)).decode()
        await asyncio.wait_for(proc.wait(), timeout=30)  # stopped: no second SIGTERM
    assert str(token_file) in log
    assert token not in log


@pytest.mark.integration
async def test_a_burst_of_connections_waits_for_a_busy_venue_rather_than_being_dropped(
    tmp_path: Path,
) -> None:
    """A fleet halting at once opens hundreds of connections in a blink (every runtime and the
    operator read each account with several requests together). The kernel queues them until
    the venue accepts them; with aiohttp's default backlog (128) it dropped the rest, and each
    waited a whole second for TCP to try again. Here the venue is stopped (busy, accepting
    nothing) while 400 connect."""
    async with venue_process(tmp_path) as (url, proc):
        host, port = url.removeprefix("http://").split(":")
        writers: list[asyncio.StreamWriter] = []

        async def connect() -> bool:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 0.5)
            except TimeoutError:
                return False
            writers.append(writer)
            return True

        os.kill(proc.pid, signal.SIGSTOP)
        try:
            connected = await asyncio.gather(*(connect() for _ in range(400)))
        finally:
            os.kill(proc.pid, signal.SIGCONT)
            for writer in writers:
                writer.close()
        assert all(connected), f"{connected.count(False)} of 400 connections dropped"
        async with aiohttp.ClientSession() as http, http.get(f"{url}/v5/market/time") as answer:
            assert answer.status == 200  # and it serves on once it runs again
