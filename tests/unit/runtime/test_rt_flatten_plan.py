"""The flatten plan: the whole account (whatever the spec names), exact closes, residue
reported, and ids that two actors derive alike."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from eternal_kernel.bybit.flatten_plan import AccountSnapshot, plan
from eternal_kernel.model.enums import Category, OrderSide, OrderType
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.model.reports import CoinBalance, PositionStatusReport

pytestmark = pytest.mark.unit


def spot(symbol: str, base: str, step: str = "0.000001", min_qty: str = "0.000048") -> Instrument:
    return Instrument(symbol, Category.SPOT, base, "USDT", D("0.01"), D(step), D(min_qty),
                      D("100000"), D("5"))  # fmt: skip


def coin(name: str, balance: str, free: str | None = None) -> CoinBalance:
    return CoinBalance(name, D(balance), D(free if free is not None else balance), D(balance))


def position(symbol: str, side: OrderSide, size: str) -> PositionStatusReport:
    return PositionStatusReport(symbol, Category.LINEAR, side, D(size), D("60000"), D("60000"),
                                D(0), D(2))  # fmt: skip


INSTRUMENTS = {
    ("BTCUSDT", Category.SPOT): spot("BTCUSDT", "BTC"),
    ("ETHUSDT", Category.SPOT): spot("ETHUSDT", "ETH", "0.00001", "0.0001"),
}
PRICES = {"BTCUSDT": D("60000"), "ETHUSDT": D("3000")}


def test_a_core_hodl_account_with_coins_its_spec_never_named_is_flattened_whole() -> None:
    # A core-hodl engine whose spec says SOLUSDT but which holds BTC and ETH, a stray short and
    # open orders in both categories.
    account = AccountSnapshot(
        open_orders={Category.SPOT: 2, Category.LINEAR: 1},
        positions=[position("SOLUSDT", OrderSide.SELL, "3.5")],
        coins={
            "USDT": coin("USDT", "1000"),
            "BTC": coin("BTC", "0.1234567", "0.1234567"),
            "ETH": coin("ETH", "2.5", "2.5"),
        },
        instruments=INSTRUMENTS,
        prices=PRICES,
    )
    result = plan(account, engine="uid-1", purpose="halt:eternal:7")
    assert result.cancel == (Category.LINEAR, Category.SPOT)
    closes = {(o.category, o.symbol): o for o in result.orders}
    short = closes[(Category.LINEAR, "SOLUSDT")]
    assert (short.side, short.qty, short.reduce_only) == (OrderSide.BUY, D("3.5"), True)
    assert short.order_type is OrderType.MARKET
    btc = closes[(Category.SPOT, "BTCUSDT")]
    assert (btc.side, btc.qty) == (OrderSide.SELL, D("0.123456"))  # down to the step
    assert closes[(Category.SPOT, "ETHUSDT")].qty == D("2.5")
    assert not result.flat
    assert [str(r) for r in result.residue] == ["7E-7 BTC (below BTCUSDT's step of 0.000001)"]


def test_two_actors_derive_the_same_ids_and_other_inputs_other_ids() -> None:
    account = AccountSnapshot({}, [position("BTCUSDT", OrderSide.BUY, "0.5")], {})
    runtime = plan(account, engine="uid-1", purpose="halt:eternal:7").orders[0]
    operator = plan(account, engine="uid-1", purpose="halt:eternal:7").orders[0]
    assert runtime.client_order_id == operator.client_order_id
    assert len(runtime.client_order_id) <= 36
    others = [
        plan(account, engine="uid-2", purpose="halt:eternal:7"),
        plan(account, engine="uid-1", purpose="halt:eternal:8"),
        plan(account, engine="uid-1", purpose="halt:eternal:7", attempt=1),
        plan(
            AccountSnapshot({}, [position("BTCUSDT", OrderSide.BUY, "0.4")], {}),
            engine="uid-1",
            purpose="halt:eternal:7",
        ),
    ]
    ids = {p.orders[0].client_order_id for p in others}
    assert runtime.client_order_id not in ids
    assert len(ids) == len(others)


def test_dust_and_unsellable_coins_are_residue_and_do_not_keep_the_account_unflat() -> None:
    account = AccountSnapshot(
        open_orders={},
        positions=[],
        coins={
            "BTC": coin("BTC", "0.00001"),  # below the minimum quantity
            "ETH": coin("ETH", "0.001"),  # 3 USDT: below the minimum value of 5
            "XYZ": coin("XYZ", "12"),  # nowhere to sell it
            "USDT": coin("USDT", "50"),
        },
        instruments=INSTRUMENTS,
        prices=PRICES,
    )
    result = plan(account, engine="e", purpose="p")
    assert result.flat
    assert result.orders == ()
    reasons = [str(r) for r in result.residue]
    assert reasons == [
        "0.00001 BTC (below BTCUSDT's minimum order of 0.000048)",
        "0.001 ETH (below ETHUSDT's minimum order value 5)",
        "12 XYZ (no XYZUSDT spot market)",
    ]
    assert "residue" in result.describe()


def test_close_directional_keeps_spot_and_locked_coins_wait_for_the_cancel() -> None:
    account = AccountSnapshot(
        open_orders={Category.SPOT: 1},
        positions=[position("ETHUSDT", OrderSide.BUY, "1")],
        coins={"BTC": coin("BTC", "0.2", "0")},  # all locked in the open order
        instruments=INSTRUMENTS,
        prices=PRICES,
    )
    directional = plan(account, engine="e", purpose="close:p:3", directional_only=True)
    assert [(o.category, o.symbol) for o in directional.orders] == [(Category.LINEAR, "ETHUSDT")]
    everything = plan(account, engine="e", purpose="halt:p:3")
    assert everything.cancel == (Category.SPOT,)
    assert [o.symbol for o in everything.orders] == ["ETHUSDT"]  # BTC once the cancel frees it
    assert everything.residue == ()


def test_nothing_held_is_flat() -> None:
    account = AccountSnapshot({}, [], {"USDT": coin("USDT", "100")})
    assert plan(account, engine="e", purpose="p").flat
    assert plan(account, engine="e", purpose="p").describe() == "flat"
