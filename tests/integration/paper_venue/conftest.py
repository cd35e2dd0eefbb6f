"""Fixtures: a paper venue on a free loopback port, and clients for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pv_support import SUB_KEY, SUB_SECRET, RawClient, pybit_http, settings
from pybit import unified_trading
from pybit.unified_trading import HTTP, WebSocket

from paper_venue.clock import Clock, ClockMode
from paper_venue.config import DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET
from paper_venue.router.app import PaperVenue


@pytest.fixture
async def pv(tmp_path: Path) -> AsyncIterator[PaperVenue]:
    venue = PaperVenue(settings(data_dir=str(tmp_path / "venue")), Clock(ClockMode.STEPPED))
    await venue.start()
    try:
        yield venue
    finally:
        await venue.stop()


@pytest.fixture
def sub_http(pv: PaperVenue) -> HTTP:
    return pybit_http(pv)


@pytest.fixture
def master_http(pv: PaperVenue) -> HTTP:
    return pybit_http(pv, DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET)


@pytest.fixture
async def pybit_ws(
    pv: PaperVenue, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[WebSocket]]]:
    """pybit's WebSocket with its URL templates pointed at the venue."""
    monkeypatch.setattr(unified_trading, "PUBLIC_WSS", f"{pv.ws_url}/v5/public/{{CHANNEL_TYPE}}")
    monkeypatch.setattr(unified_trading, "PRIVATE_WSS", f"{pv.ws_url}/v5/private")
    made: list[WebSocket] = []

    async def make(channel_type: str, **kw: Any) -> WebSocket:
        ws = await asyncio.to_thread(
            lambda: WebSocket(channel_type=channel_type, testnet=False, retries=3, **kw)
        )
        made.append(ws)
        return ws

    yield make
    for ws in made:
        await asyncio.to_thread(ws.exit)


@pytest.fixture
async def raw(pv: PaperVenue) -> AsyncIterator[RawClient]:
    async with aiohttp.ClientSession() as session:
        yield RawClient(pv.http_url, session, SUB_KEY, SUB_SECRET)
