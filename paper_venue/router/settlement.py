"""Periodic settlement of linear positions: funding every N hours, take-profit and
stop-loss triggers, and liquidation.

Funding: at each settlement time every open position pays (or receives) size x mark x
rate; longs pay when the rate is positive. Liquidation: when an account's margin balance
(USDT wallet plus unrealised PnL) falls to its maintenance margin, its linear orders are
cancelled and its positions closed at the mark price; a negative wallet is reset to zero,
as an insurance fund would.
"""

from __future__ import annotations

import logging
import uuid

from paper_venue.decimals import ZERO
from paper_venue.errors import BybitError
from paper_venue.instruments import Category
from paper_venue.ledger import journal
from paper_venue.matching.orders import (
    ClientOrderId,
    Execution,
    Order,
    OrderStatus,
    VenueOrderId,
)
from paper_venue.router import fills, trading
from paper_venue.router.state import VenueState
from paper_venue.router.wallet import margin

log = logging.getLogger(__name__)


def settle_funding(venue: VenueState, at_ms: int) -> None:
    """Charge or credit funding for the settlement at `at_ms`."""
    for symbol in venue.settings.symbols:
        rate = venue.funding_rate(symbol)
        venue.funding_history[symbol].append((at_ms, rate))
        venue.funding_index[symbol] += 1
        inst = venue.instrument(Category.LINEAR, symbol)
        mark = venue.market.price(symbol)
        for acct in venue.accounts.values():
            pos = acct.positions.get(symbol)
            if pos is None or pos.size == 0:
                continue
            payment = pos.size * mark * rate
            acct.credit("USDT", -payment)
            pos.cur_realised -= payment
            for key in ("USDT", f"pos:{symbol}"):
                acct.cum_realised[key] = acct.cum_realised.get(key, ZERO) - payment
            pos.seq = venue.next_seq()
            pos.updated_ms = at_ms
            ex = Execution(
                exec_id=str(uuid.uuid4()),
                uid=acct.uid,
                inst=inst,
                order_id="",
                order_link_id="",
                side=pos.side,
                order_type="UNKNOWN",
                order_price=None,
                order_qty=ZERO,
                leaves_qty=ZERO,
                exec_price=mark,
                exec_qty=abs(pos.size),
                exec_fee=payment,
                fee_rate=rate,
                fee_currency="USDT",
                is_maker=False,
                exec_time_ms=at_ms,
                mark_price=mark,
                seq=pos.seq,
                exec_type="Funding",
            )
            venue.record_execution(ex)
            journal.record_funding(venue.ledger, venue.next_seq, acct, ex, payment)
            if venue.listening(acct.uid):
                venue.emit(acct.uid, "execution", [ex.to_wire(stream=True)])
            fills.publish_account(venue, acct.uid, {symbol})


def check_stops(venue: VenueState) -> None:
    """Close positions whose take-profit or stop-loss (Full mode, whole position) the price
    has reached, with a reduce-only market order as Bybit's triggered TP/SL would."""
    for acct in venue.accounts.values():
        for symbol, pos in list(acct.positions.items()):
            if pos.size == 0 or (pos.take_profit is None and pos.stop_loss is None):
                continue
            price = venue.market.price(symbol)
            long = pos.size > 0
            hit_sl = pos.stop_loss is not None and (
                price <= pos.stop_loss if long else price >= pos.stop_loss
            )
            hit_tp = pos.take_profit is not None and (
                price >= pos.take_profit if long else price <= pos.take_profit
            )
            if not (hit_sl or hit_tp):
                continue
            kind = "StopLoss" if hit_sl else "TakeProfit"
            pos.take_profit = pos.stop_loss = None
            try:
                trading.place_order(
                    venue,
                    acct.uid,
                    trading.PlaceOrder(
                        Category.LINEAR,
                        symbol,
                        "Sell" if long else "Buy",
                        "Market",
                        abs(pos.size),
                        reduce_only=True,
                        close_on_trigger=True,
                    ),
                    create_type=f"CreateBy{kind}",
                    stop_order_type=kind,
                )
            except BybitError as err:
                log.warning("%s of uid %s on %s not placed: %s", kind, acct.uid, symbol, err)


def check_liquidations(venue: VenueState) -> list[int]:
    """Liquidate every account at or below maintenance margin; returns their uids."""
    liquidated = []
    for acct in venue.accounts.values():
        if not any(p.size != 0 for p in acct.positions.values()):
            continue
        m = margin(venue, acct)
        if m.margin_balance > m.position_mm:
            continue
        liquidated.append(acct.uid)
        trading.cancel_all(venue, acct.uid, Category.LINEAR, None, cancel_type="CancelByLiq")
        symbols = set()
        for symbol, pos in acct.positions.items():
            if pos.size == 0:
                continue
            symbols.add(symbol)
            pos.status = "Liq"
            inst = venue.instrument(Category.LINEAR, symbol)
            mark = venue.market.price(symbol)
            now = venue.clock.now_ms()
            order = Order(
                order_id=VenueOrderId(venue.new_order_id(Category.LINEAR)),
                order_link_id=ClientOrderId(""),
                uid=acct.uid,
                inst=inst,
                side="Sell" if pos.size > 0 else "Buy",
                order_type="Market",
                qty=abs(pos.size),
                price=None,
                time_in_force="IOC",
                reduce_only=True,
                close_on_trigger=False,
                created_ms=now,
                updated_ms=now,
                last_price_on_created=mark,
                create_type="CreateByLiq",
            )
            venue.register(order)
            fills.execute(venue, order, mark, abs(pos.size), is_maker=False, exec_type="BustTrade")
            order.status = OrderStatus.FILLED
            venue.finish(order)
            fills.publish_order(venue, order)
            pos.status = "Normal"
        if acct.balance("USDT") < 0:
            acct.unified["USDT"] = ZERO
        fills.publish_account(venue, acct.uid, symbols)
    return liquidated
