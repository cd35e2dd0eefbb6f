"""One order sequence through the paper venue and through the backtester's venue: the same
fills, fees, realised PnL, positions and final balances, to the cent.

The paper venue runs in process (its router's order entry, its matching against the synthetic
book, its ledger) on a stepped clock and a scripted price; every execution it reports is then
filled in the backtester's `SimAccount` at the same price, quantity and liquidity side. Both
call `paper_venue.matching.arithmetic` (fee rate, fee, position after a fill), the venue in
Decimal and the backtester in float, so a drift in either copy of the booking breaks this test.

The one rule that differs on purpose: Bybit charges a spot buy's fee in the coin received (the
venue: BTC), the backtester in USDT; the test converts at the fill price and carries the
difference into the final balances explicitly.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.backtest.venue import FeeModel, SimAccount, SimOrder
from engine_runtime.strategies.interface import Category as BtCategory
from engine_runtime.strategies.interface import OrderType
from paper_venue.clock import Clock, ClockMode
from paper_venue.config import VenueSettings
from paper_venue.instruments import Category
from paper_venue.matching.orders import Execution
from paper_venue.router import trading
from paper_venue.router.trading import PlaceOrder
from paper_venue.router.venue import Venue

pytestmark = pytest.mark.unit

START_MS = 1_700_000_400_000
SUB = 100001
SYMBOL = "BTCUSDT"
CENT = D("0.01")


def cents(value: D | float) -> D:
    return D(repr(value) if isinstance(value, float) else value).quantize(CENT)


def close(bt: float, venue: D) -> bool:
    """Equal to the cent, and far closer than that (float against exact Decimal)."""
    return cents(bt) == cents(venue) and abs(D(repr(bt)) - venue) < D("0.000001")


class Both:
    """Drives the paper venue and mirrors each execution it reports into a SimAccount."""

    def __init__(self) -> None:
        settings = VenueSettings.model_validate(
            {
                "feed": {"kind": "scripted", "backfill_minutes": 5},
                "clock": {"mode": "stepped", "start_ms": START_MS},
            }
        )
        self.venue = Venue(settings, Clock(ClockMode.STEPPED, start_ms=START_MS))
        self.venue.account(SUB).credit("USDT", D(90_000))
        fees = settings.fees
        self.sim = SimAccount(
            cash=float(self.venue.account(SUB).balance("USDT")),
            fees=FeeModel(
                spot_taker=float(fees.spot_taker),
                spot_maker=float(fees.spot_maker),
                linear_taker=float(fees.linear_taker),
                linear_maker=float(fees.linear_maker),
            ),
            leverage=10.0,
        )
        self.seen = 0
        self.spot_buy_fees_usdt = 0.0
        self.spot_buy_fees_btc = D(0)

    def move(self, price: str) -> None:
        """The market moves; resting orders the book now reaches fill (as maker)."""
        self.venue.market.move(SYMBOL, D(price), self.venue.clock.now_ms())
        self.venue.update()

    def place(self, category: Category, side: str, qty: str, **kw: object) -> None:
        order_type = "Limit" if "price" in kw else "Market"
        req = PlaceOrder(category, SYMBOL, side, order_type, D(qty), **kw)  # type: ignore[arg-type]
        trading.place_order(self.venue, SUB, req)

    def mirror(self) -> list[Execution]:
        """Fill the venue's new executions in the backtester, checking each fill."""
        new = list(reversed(self.venue.executions.get(SUB, [])))[self.seen :]
        self.seen += len(new)
        for ex in new:
            self._mirror(ex)
        pos = self.venue.account(SUB).positions.get(SYMBOL)
        if pos is not None:  # the position after them: size and average entry
            assert close(self.sim.perp_qty.get(SYMBOL, 0.0), pos.size)
            assert close(self.sim.perp_entry.get(SYMBOL, 0.0), pos.entry)
        return new

    def _mirror(self, ex: Execution) -> None:
        spot = ex.inst.category is Category.SPOT
        price = float(ex.exec_price)
        order = SimOrder(
            intent_id=ex.order_id,
            symbol=SYMBOL,
            category=BtCategory.SPOT if spot else BtCategory.LINEAR,
            side=1 if ex.side == "Buy" else -1,
            order_type=OrderType.LIMIT if ex.is_maker else OrderType.MARKET,
            qty=float(ex.exec_qty),
            notional=0.0,
            price=price,
            post_only=False,
            reduce_only=False,
            reason="parity",
        )
        outcome = self.sim.execute(order, price, ex.is_maker, ex.exec_time_ms, {SYMBOL: price}, {
            SYMBOL: price
        })  # fmt: skip
        fill = outcome.fill
        assert outcome.status == "Filled", outcome.reason
        assert fill is not None
        assert fill.qty == float(ex.exec_qty)
        assert fill.maker is ex.is_maker
        if spot and ex.side == "Buy":  # the venue's fee is in BTC: compare its USDT worth
            assert ex.fee_currency == "BTC"
            assert close(fill.fee, ex.exec_fee * ex.exec_price)
            self.spot_buy_fees_usdt += fill.fee
            self.spot_buy_fees_btc += ex.exec_fee
        else:
            assert ex.fee_currency == "USDT"
            assert close(fill.fee, ex.exec_fee)
        assert close(fill.realized_pnl, ex.exec_pnl)


def test_one_order_sequence_books_the_same_in_the_venue_and_the_backtester() -> None:
    both = Both()
    S, L = Category.SPOT, Category.LINEAR

    # spot: a taker buy, then a resting sell that fills as maker when the price comes up
    both.place(S, "Buy", "0.01", market_unit="baseCoin")
    both.place(S, "Sell", "0.009", price=D("60500.00"))
    assert len(both.mirror()) == 1
    both.move("60510")
    [maker_sell] = both.mirror()
    assert maker_sell.is_maker
    assert maker_sell.fee_rate == D("0.001")

    # linear long: open (taker), add with a resting buy (maker), reduce, close
    both.place(L, "Buy", "0.02")
    assert len(both.mirror()) == 1
    both.place(L, "Buy", "0.01", price=D("60000.0"))
    assert both.mirror() == []
    both.move("59990")
    [maker_add] = both.mirror()
    assert maker_add.is_maker
    assert maker_add.fee_rate == D("0.0002")
    both.move("60800")
    both.place(L, "Sell", "0.012")
    [reduce] = both.mirror()
    both.place(L, "Sell", "0.018", reduce_only=True)
    [close_long] = both.mirror()
    assert reduce.closed_size == D("0.012")
    assert close_long.closed_size == D("0.018")

    # linear short: open, add, flip long past flat (close and open in one fill), close
    both.move("61000")
    both.place(L, "Sell", "0.02")
    both.mirror()
    both.move("61400")
    both.place(L, "Sell", "0.01")
    both.mirror()
    both.move("60700")
    both.place(L, "Buy", "0.05")
    [flip] = both.mirror()
    both.move("60400")
    both.place(L, "Sell", "0.02", reduce_only=True)
    [close_flip] = both.mirror()
    assert flip.closed_size == D("0.03")
    assert flip.exec_qty == D("0.05")
    assert close_flip.closed_size == D("0.02")
    assert both.venue.account(SUB).positions[SYMBOL].size == 0
    assert not both.sim.perp_qty

    # every fill paid a fee; PnL was realised both ways
    fills = both.sim.fills
    assert len(fills) == len(both.venue.executions[SUB]) == 10
    assert all(f.fee > 0 for f in fills)
    assert any(f.realized_pnl > 0 for f in fills)
    assert any(f.realized_pnl < 0 for f in fills)

    # final balances: USDT and BTC agree once the spot buy fee's coin is accounted for
    acct = both.venue.account(SUB)
    assert close(both.sim.cash + both.spot_buy_fees_usdt, acct.balance("USDT"))
    assert close(both.sim.spot[SYMBOL], acct.balance("BTC") + both.spot_buy_fees_btc)
    assert close(both.sim.fees_paid - both.spot_buy_fees_usdt, _usdt_fees(both.venue))


def _usdt_fees(venue: Venue) -> D:
    return sum((ex.exec_fee for ex in venue.executions[SUB] if ex.fee_currency == "USDT"), D(0))
