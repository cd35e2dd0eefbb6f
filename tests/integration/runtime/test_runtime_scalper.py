"""The scalper live: a real runtime process on the paper venue's order book and tape enters on an
imbalance and a volume spike that another account makes (its resting bid in the published book,
its market orders on the tape), and leaves by its take-profit when the price rises."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.processes import stop
from support import rtdb
from support.runtime import make_runtime, new_account, start_fast_venue
from support.venue_admin import admin
from support.waiting import wait_for

pytestmark = pytest.mark.integration

# A real-time clock (the runtime's timers and the venue's stamps agree), a price that moves only
# when the test says so, and no synthetic market trades: the tape is what the accounts trade.
VENUE = (
    "clock:\n  mode: real\n"
    "feed:\n  kind: scripted\n  backfill_minutes: 60\n  trade_notional_usdt: 0\n"
)
PARAMS: dict[str, Any] = {
    "imbalanceLevels": 5,
    "imbalanceThreshold": 1.5,
    "volumeWindowSeconds": 1,
    "volumeBaselineWindows": 3,
    "volumeSpikeMultiple": 3,
    "maxSpreadBps": 5,
    "momentum": "none",
    "entryTimeoutSeconds": 60,
    "maxHoldingSeconds": 120,
    "takeProfit": 20,
    "stopLoss": 10,
    "tickSize": 0.1,
}


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, process = start_fast_venue(Path(tmp_path_factory.mktemp("scalper-venue")), VENUE)
    yield url
    stop(process)


def test_the_scalper_enters_on_a_scripted_imbalance_and_takes_profit(
    tmp_path: Path, venue: str, postgres: str, redis: str
) -> None:
    account = new_account(venue, f"sc{secrets.token_hex(4)}")
    rt = make_runtime(
        tmp_path / "scalper", name="scalper", venue_url=venue, database_url=postgres,
        redis_url=redis, account=account, builtin="scalper", extra_params=PARAMS,
        risk={"maxLeverage": "3", "maxPositionFraction": "0.5", "maxConcurrentPositions": 2,
              "dailyLossLimit": "0.05", "weeklyLossLimit": "0.1", "minSignalConfidence": "0.5"},
    )  # fmt: skip
    engine = "default/scalper"
    whale_account = new_account(venue, f"wh{secrets.token_hex(4)}", usdt="2000000")
    whale = http_session(venue, whale_account.api_key, whale_account.api_secret)
    try:
        rt.start()
        rt.wait_ready()
        assert rtdb.orders(postgres, engine) == []  # a flat book and a quiet tape: nothing

        def buy(qty: str) -> None:
            whale.place_order(category="linear", symbol="BTCUSDT", side="Buy",
                              orderType="Market", qty=qty)  # fmt: skip

        buy("0.01")  # the tape starts: the baseline is this and the quiet seconds after it
        time.sleep(5.5)
        assert rtdb.orders(postgres, engine) == []  # no spike, no imbalance yet
        buy("0.5")  # the spike ...
        whale.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit",
                          qty="8", price="59999.9", timeInForce="PostOnly")  # fmt: skip
        # ... and the imbalance: 8 BTC more on the bid side of the published top 5 levels

        def entry() -> dict[str, Any] | None:
            rows = rtdb.orders(postgres, engine)
            return rows[0] if rows else None

        order = wait_for(entry, 15, "the scalper's entry")
        assert order["post_only"] is True
        assert order["side"] == "Buy"
        assert order["price"] == Decimal("60000.0")  # at the touch: the best bid
        assert str(order["reason"]).startswith("imbalance long")

        admin(venue, "price", {"symbol": "BTCUSDT", "price": "59999.8"})  # trades through it
        wait_for(lambda: rtdb.executions(postgres, engine), 15, "the entry to fill as maker")
        (fill,) = rtdb.executions(postgres, engine)
        assert fill["price"] == Decimal("60000.0")
        assert fill["is_maker"] is True

        admin(venue, "price", {"symbol": "BTCUSDT", "price": "60003.0"})  # past 20 ticks

        def closed() -> list[dict[str, Any]] | None:
            rows = rtdb.executions(postgres, engine)
            return rows if len(rows) == 2 else None

        rows = wait_for(closed, 15, "the take-profit exit")
        exit_fill = next(r for r in rows if r["side"] == "Sell")
        assert exit_fill["price"] >= Decimal("60002.0")
        exit_order = next(o for o in rtdb.orders(postgres, engine) if o["side"] == "Sell")
        assert exit_order["reason"] == "take profit"
        assert exit_order["reduce_only"] is True
        position = rtdb.fetch(postgres, "SELECT qty FROM positions WHERE engine=$1", engine)
        assert all(p["qty"] == 0 for p in position)
    finally:
        rt.stop()
