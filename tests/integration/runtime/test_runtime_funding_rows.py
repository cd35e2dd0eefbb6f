"""Funding settlements (execType=Funding) are never booked as fills: not from the private
execution stream, not from the REST executions a start or a resync reads (NautilusTrader #4937
booked them as trades). The paper venue settles funding on its own clock, stepped here."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.processes import stop
from support import rtdb
from support.runtime import admin, make_runtime, new_account, start_fast_venue
from support.waiting import wait_for

pytestmark = pytest.mark.integration

STEPPED = (
    "clock:\n  mode: stepped\n"  # market time moves only when the test advances it
    "feed:\n  backfill_minutes: 60\n"
    "funding:\n  interval_hours: 1\n  rate: '0.001'\n"
)


@pytest.fixture(scope="module")
def stepped_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, process = start_fast_venue(Path(tmp_path_factory.mktemp("stepped-venue")), STEPPED)
    yield url
    stop(process)


def test_funding_settlements_are_never_booked_as_fills(
    stepped_venue: str, postgres: str, redis: str, tmp_path: Path
) -> None:
    account = new_account(stepped_venue, f"fund{secrets.token_hex(4)}")
    venue = http_session(stepped_venue, account.api_key, account.api_secret)
    venue.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market",
                      qty="0.01")  # fmt: skip
    engine = "default/funding"
    rt = make_runtime(tmp_path / "funding", name="funding", venue_url=stepped_venue,
                      database_url=postgres, redis_url=redis, account=account)  # fmt: skip

    def trades_on_venue() -> set[str]:
        rows = venue.get_executions(category="linear", execType="Trade")["result"]["list"]
        return {r["execId"] for r in rows}

    def booked() -> set[str]:
        return {str(e["trade_id"]) for e in rtdb.executions(postgres, engine)}

    def position() -> Decimal:
        rows = rtdb.fetch(postgres, "SELECT qty FROM positions WHERE engine=$1", engine)
        return Decimal(rows[0]["qty"]) if rows else Decimal(0)

    try:
        rt.start()
        rt.wait_ready()
        assert booked() == trades_on_venue()  # the trade before the start, booked from REST
        state = admin(stepped_venue, "state")
        admin(stepped_venue, "clock/advance",
              {"ms": state["next_funding_ms"] - state["now_ms"], "step_ms": 60_000})  # fmt: skip
        settled = venue.get_executions(category="linear", execType="Funding")["result"]["list"]
        assert len(settled) == 1  # the settlement is an execution row, on the stream and REST
        assert settled[0]["orderLinkId"] == ""
        # A trade after the settlement: once the stream's copy of it is booked, the settlement
        # before it on the same stream has been seen.
        venue.place_order(category="linear", symbol="BTCUSDT", side="Sell", orderType="Market",
                          qty="0.004")  # fmt: skip
        wait_for(lambda: len(booked()) == 2, 20, "the second trade booked from the stream")
        assert booked() == trades_on_venue()
        assert position() == Decimal("0.006")

        rt.stop()  # a start reads the executions since the last fill again, settlement included
        rt.start()
        rt.wait_ready()
        assert booked() == trades_on_venue()
        assert position() == Decimal("0.006")
        discrepancies = rtdb.fetch(
            postgres, "SELECT kind, subject FROM discrepancies WHERE engine=$1", engine
        )
        assert [d for d in discrepancies if d["kind"] != "fill"] == []
        missed = {d["subject"] for d in discrepancies}
        assert settled[0]["execId"] not in missed
    finally:
        rt.stop()
