"""Rate-limit windows and headers; snapshot round trip."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest

from paper_venue.config import AccountSeed, RateLimitSettings
from paper_venue.instruments import Category
from paper_venue.router import snapshot, trading
from paper_venue.router.ratelimit import RateLimiter
from paper_venue.router.venue import Venue


@pytest.mark.unit
def test_rate_limit_rolls_per_second_and_reports_headers() -> None:
    limiter = RateLimiter(RateLimitSettings(overrides={"/v5/order/create": 2}))
    now = 1_000_500
    states = [limiter.hit("uid:1", "/v5/order/create", now + i) for i in range(3)]
    assert [s.allowed for s in states if s] == [True, True, False]
    assert states[0] is not None
    assert states[0].headers()["X-Bapi-Limit-Reset-Timestamp"] == str(now)
    last = states[-1]
    assert last is not None
    assert last.headers() == {
        "X-Bapi-Limit": "2",
        "X-Bapi-Limit-Status": "0",
        "X-Bapi-Limit-Reset-Timestamp": str(now + 1000),
    }
    other = limiter.hit("uid:2", "/v5/order/create", now)
    assert other is not None
    assert other.allowed
    assert not limiter.hit("uid:1", "/v5/order/create", now + 999).allowed  # type: ignore[union-attr]
    assert limiter.hit("uid:1", "/v5/order/create", now + 1000).allowed  # type: ignore[union-attr]


@pytest.mark.unit
def test_spot_order_entry_has_its_own_limit_and_transfers_are_per_minute() -> None:
    limiter = RateLimiter(RateLimitSettings())
    spot = [limiter.hit("uid:1", "/v5/order/create", 0, "spot") for _ in range(21)]
    linear = [limiter.hit("uid:1", "/v5/order/create", 0, "linear") for _ in range(11)]
    assert [s.allowed for s in spot if s].count(True) == 20
    assert [s.allowed for s in linear if s].count(True) == 10
    transfers = [
        limiter.hit("uid:1", "/v5/asset/transfer/inter-transfer", t * 1000) for t in range(21)
    ]
    assert [s.allowed for s in transfers if s].count(True) == 20
    assert limiter.hit("uid:1", "/v5/market/kline", 0) is not None
    assert limiter.hit("uid:1", "/v5/not/limited", 0) is None


@pytest.mark.unit
def test_snapshot_round_trip(make_venue: Callable[..., Venue], tmp_path: Path) -> None:
    venue = make_venue()
    trading.place_order(
        venue, 100001, trading.PlaceOrder(Category.LINEAR, "BTCUSDT", "Buy", "Market", D("0.01"))
    )
    resting = trading.place_order(
        venue,
        100001,
        trading.PlaceOrder(
            Category.LINEAR,
            "BTCUSDT",
            "Buy",
            "Limit",
            D("0.01"),
            D("59000.0"),
            order_link_id="keep-me",
        ),
    )
    venue.account(100001).positions["BTCUSDT"].stop_loss = D("50000.0")
    venue.market.move("BTCUSDT", D(60600), venue.clock.now_ms())
    closing = trading.place_order(
        venue,
        100001,
        trading.PlaceOrder(Category.LINEAR, "BTCUSDT", "Sell", "Market", D("0.005")),
    )
    assert closing.closed_pnl != 0
    path = tmp_path / "state.json"
    snapshot.save(venue, path)
    assert path.stat().st_mode & 0o777 == 0o600
    fresh = make_venue()
    snapshot.restore(fresh, path)
    acct = fresh.account(100001)
    assert acct.balance("USDT") == venue.account(100001).balance("USDT")
    assert acct.positions["BTCUSDT"].size == D("0.005")
    again = fresh.find_order(100001, closing.order_id, None)
    assert again is not None
    assert again.closed_pnl == closing.closed_pnl
    assert [e.exec_pnl for e in fresh.executions[100001]] == [
        e.exec_pnl for e in venue.executions[100001]
    ]
    assert isinstance(fresh.executions[100001][0].exec_pnl, D)
    assert acct.positions["BTCUSDT"].stop_loss == D("50000.0")
    restored = fresh.find_order(100001, None, "keep-me")
    assert restored is not None
    assert restored.order_id == resting.order_id
    assert restored.status.is_open
    assert len(fresh.executions[100001]) == 2
    fresh.market.move("BTCUSDT", D(58900), fresh.clock.now_ms())
    fresh.update()
    assert not restored.status.is_open


@pytest.mark.unit
def test_ids_continue_past_restored_ones(make_venue: Callable[..., Venue], tmp_path: Path) -> None:
    venue = make_venue()
    first = venue.add_account(AccountSeed(username="made-by-api"), is_master=False, parent=100000)
    spot = trading.place_order(
        venue, 100001, trading.PlaceOrder(Category.SPOT, "BTCUSDT", "Buy", "Market", D("100"))
    )
    path = tmp_path / "state.json"
    snapshot.save(venue, path)
    fresh = make_venue()
    snapshot.restore(fresh, path)
    second = fresh.add_account(
        AccountSeed(username="after-restore"), is_master=False, parent=100000
    )
    assert second.uid == first.uid + 1
    again = trading.place_order(
        fresh, 100001, trading.PlaceOrder(Category.SPOT, "BTCUSDT", "Buy", "Market", D("100"))
    )
    assert int(again.order_id) > int(spot.order_id)
