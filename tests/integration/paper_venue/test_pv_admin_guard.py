"""The admin API over HTTP: the token on every route, bounded amounts and prices (there and on
Bybit's transfer endpoints), and snapshot files only inside the data directory."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pv_support import ADMIN, ADMIN_TOKEN, SUB_UID, RawClient

from paper_venue.config import DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET
from paper_venue.router.app import PaperVenue

# Every admin route, in an order in which each call succeeds (restore needs the snapshot).
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "state", None),
    ("POST", "faults", {"latency_ms": 0}),
    ("POST", "faults/clear", {}),
    ("POST", "ws/drop", {}),
    ("POST", "price", {"symbol": "BTCUSDT", "price": "60000"}),
    ("POST", "feed/pause", {"symbol": "BTCUSDT", "paused": False}),
    ("POST", "feed/script", {"symbol": "BTCUSDT", "points": [[0, "1"]]}),
    ("POST", "clock/advance", {"ms": 1000}),
    ("POST", "accounts", {"username": "guarded", "balances": {"USDT": "5"}}),
    ("POST", f"accounts/{SUB_UID}/keys", {}),
    ("POST", f"accounts/{SUB_UID}/deposit", {"coin": "USDT", "amount": "1"}),
    ("POST", "snapshot", {"path": "guarded.json"}),
    ("POST", "restore", {"path": "guarded.json"}),
]


async def call(
    raw: RawClient, method: str, path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = body if isinstance(body, str) else json.dumps(body or {})
    async with raw.session.request(
        method, f"{raw.base}/admin/{path}", data=data if method == "POST" else None,
        headers=headers or {},
    ) as r:  # fmt: skip
        return r.status, await r.json(content_type=None)


@pytest.mark.integration
async def test_every_admin_route_wants_the_token(pv: PaperVenue, raw: RawClient) -> None:
    usdt = pv.venue.account(SUB_UID).balance("USDT")
    accounts = len(pv.venue.accounts)
    for method, path, body in ROUTES:
        for refused in ({}, {"X-Admin-Token": "wrong"}, {"X-Admin-Token": ADMIN_TOKEN + "x"}):
            status, answer = await call(raw, method, path, body, refused)
            assert status == 401, (path, refused, answer)
            assert ADMIN_TOKEN not in json.dumps(answer)
    assert pv.venue.account(SUB_UID).balance("USDT") == usdt  # nothing happened
    assert len(pv.venue.accounts) == accounts
    assert not (pv.data_dir / "guarded.json").exists()
    for method, path, body in ROUTES:
        status, answer = await call(raw, method, path, body, ADMIN)
        assert status == 200, (path, answer)
    assert pv.venue.account(SUB_UID).balance("USDT") == usdt + 1
    status, _ = await call(raw, "POST", "no/such/route", {})
    assert status == 401  # unknown admin paths too: nothing to learn without the token


@pytest.mark.integration
@pytest.mark.parametrize(
    "amount",
    ['"1e400"', '"NaN"', '"Infinity"', '"-5"', '"0"', '"0.000000001"', "1e400", '"12abc"'],
)
async def test_absurd_deposits_are_refused_and_the_wallet_stays_sound(
    pv: PaperVenue, raw: RawClient, amount: str
) -> None:
    before = pv.venue.account(SUB_UID).balance("USDT")
    body = f'{{"coin": "USDT", "amount": {amount}}}'  # raw JSON: 1e400 as a JSON number too
    status, answer = await call(raw, "POST", f"accounts/{SUB_UID}/deposit", body, ADMIN)
    assert status == 400
    assert answer["error"].startswith("amount: ")
    assert pv.venue.account(SUB_UID).balance("USDT") == before
    wallet = await raw.get("/v5/account/wallet-balance", "accountType=UNIFIED")
    assert wallet[1]["retCode"] == 0


@pytest.mark.integration
async def test_a_deposit_may_not_push_a_balance_past_the_bound(
    pv: PaperVenue, raw: RawClient
) -> None:
    body = {"coin": "USDT", "amount": "1000000000000000"}
    status, answer = await call(raw, "POST", f"accounts/{SUB_UID}/deposit", body, ADMIN)
    assert status == 400
    assert "exceed" in answer["error"]
    body["coin"] = "NEW"
    status, _ = await call(raw, "POST", f"accounts/{SUB_UID}/deposit", body, ADMIN)
    assert status == 200  # the same amount into an empty wallet is fine


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("accounts", {"username": "rich", "balances": {"USDT": "1e400"}}, "balances.USDT"),
        ("accounts", {"username": "rich", "balances": {"USDT": "-1"}}, "balances.USDT"),
        ("accounts", {"username": "rich", "balances": {"USDT": "1.123456789"}}, "balances.USDT"),
        ("accounts", {"username": "rich", "balances": {"usdt; drop": "1"}}, "balances"),
        ("price", {"symbol": "BTCUSDT", "price": "1e400"}, "price"),
        ("price", {"symbol": "BTCUSDT", "price": "NaN"}, "price"),
        ("price", {"symbol": "BTCUSDT", "price": "-Infinity"}, "price"),
        ("price", {"symbol": "BTCUSDT", "price": "0"}, "price"),
        ("feed/script", {"symbol": "BTCUSDT", "points": [[0, "1"], [60000, "NaN"]]}, "points"),
        ("feed/script", {"symbol": "BTCUSDT", "points": [[0, "1e400"]]}, "points"),
        (f"accounts/{SUB_UID}/deposit", {"coin": "../x", "amount": "1"}, "coin"),
    ],
)
async def test_absurd_balances_prices_and_multipliers_are_refused_by_name(
    pv: PaperVenue, raw: RawClient, path: str, body: dict[str, Any], field: str
) -> None:
    accounts, price = len(pv.venue.accounts), pv.venue.market.price("BTCUSDT")
    status, answer = await call(raw, "POST", path, body, ADMIN)
    assert status == 400
    assert answer["error"].startswith(f"{field}"), answer
    assert len(pv.venue.accounts) == accounts
    assert pv.venue.market.price("BTCUSDT") == price


@pytest.mark.integration
@pytest.mark.parametrize("amount", ["1e400", "NaN", "Infinity", "-5", "0", "1.000000001"])
async def test_bybit_transfers_refuse_absurd_amounts(
    pv: PaperVenue, raw: RawClient, amount: str
) -> None:
    master = RawClient(raw.base, raw.session, DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET)
    before = {uid: a.balance("USDT") for uid, a in pv.venue.accounts.items()}
    common = {"coin": "USDT", "amount": amount, "fromAccountType": "UNIFIED"}
    universal = {
        **common, "transferId": "6b2c3f0e-0a7e-4c49-9a55-2f1c6f1d0b01",
        "toAccountType": "UNIFIED", "fromMemberId": 100000, "toMemberId": SUB_UID,
    }  # fmt: skip
    inter = {
        **common,
        "transferId": "6b2c3f0e-0a7e-4c49-9a55-2f1c6f1d0b02",
        "toAccountType": "FUND",
    }
    answered = await master.post("/v5/asset/transfer/universal-transfer", universal)
    assert answered[1]["retCode"] == 10001, answered[1]
    answered = await master.post("/v5/asset/transfer/inter-transfer", inter)
    assert answered[1]["retCode"] == 10001, answered[1]
    assert {uid: a.balance("USDT") for uid, a in pv.venue.accounts.items()} == before


@pytest.mark.integration
async def test_bybit_transfers_are_bounded_by_the_balance(pv: PaperVenue, raw: RawClient) -> None:
    master = RawClient(raw.base, raw.session, DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET)
    body = {"transferId": "6b2c3f0e-0a7e-4c49-9a55-2f1c6f1d0b03", "coin": "USDT",
            "amount": "99999999999999999999", "fromAccountType": "UNIFIED",
            "toAccountType": "UNIFIED", "fromMemberId": 100000, "toMemberId": SUB_UID}  # fmt: skip
    answered = await master.post("/v5/asset/transfer/universal-transfer", body)
    assert answered[1]["retCode"] == 131212
    assert pv.venue.account(SUB_UID).balance("USDT") == Decimal(10000)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("{outside}/stolen.json", "absolute"),
        ("../stolen.json", "'..'"),
        ("out/stolen.json", "outside"),
        ("link.json", "outside"),
        (".", "outside"),
    ],
)
async def test_snapshots_stay_inside_the_data_directory(
    pv: PaperVenue, raw: RawClient, tmp_path: Path, name: str, why: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    pv.data_dir.mkdir(parents=True, exist_ok=True)
    (pv.data_dir / "out").symlink_to(outside)
    (pv.data_dir / "link.json").symlink_to(outside / "stolen.json")
    (outside / "stolen.json").write_text("{}")  # restore must not read it either
    name = name.format(outside=outside)
    for route in ("snapshot", "restore"):
        status, answer = await call(raw, "POST", route, {"path": name}, ADMIN)
        assert status == 400, (route, answer)
        assert answer["error"].startswith("path: ")
        assert why in answer["error"]
    assert [p.name for p in outside.iterdir()] == ["stolen.json"]
    assert (outside / "stolen.json").read_text() == "{}"
