"""Applying a fill: order progress, wallet or position, fees, and the events they cause."""

from __future__ import annotations

import uuid
from decimal import Decimal

from paper_venue.decimals import ZERO
from paper_venue.instruments import Category
from paper_venue.ledger import journal
from paper_venue.ledger.booking import book_linear_fill, book_spot_fill
from paper_venue.matching.arithmetic import fee_rate, fill_fee
from paper_venue.matching.orders import Execution, Order, OrderStatus
from paper_venue.router.state import VenueState


def execute(
    venue: VenueState,
    order: Order,
    price: Decimal,
    qty: Decimal,
    *,
    is_maker: bool,
    exec_type: str = "Trade",
) -> Execution:
    """Fill `qty` of `order` at `price`: move the money, advance the order, record it all."""
    inst = order.inst
    acct = venue.account(order.uid)
    now = venue.clock.now_ms()
    spot = inst.category is Category.SPOT
    rate = fee_rate(venue.settings.fees, spot=spot, maker=is_maker)
    value = price * qty
    closed = pnl = ZERO
    seq = venue.next_seq()
    if spot:
        # Bybit charges a spot fee in the coin received: base on a buy, quote on a sell.
        fee = fill_fee(qty if order.is_buy else value, rate)
        fee_coin = inst.base if order.is_buy else inst.quote
        book_spot_fill(acct, inst.base, inst.quote, buy=order.is_buy, qty=qty, value=value, fee=fee)
        if order.is_buy:
            release = value if order.price is None else order.price * qty
            order.locked = max(ZERO, order.locked - release)
        else:
            order.locked = max(ZERO, order.locked - qty)
    else:
        fee = fill_fee(value, rate)
        fee_coin = inst.quote
        pnl, closed = book_linear_fill(
            acct,
            inst.symbol,
            order.side,
            qty,
            price,
            fee,
            default_leverage=venue.default_leverage(inst),
            now_ms=now,
            seq=seq,
        )
        if closed > 0:
            order.closed_pnl += pnl - fee * closed / qty
    order.cum_exec_qty += qty
    order.cum_exec_value += value
    order.cum_exec_fee += fee
    order.updated_ms = now
    if order.quote_qty is None and order.cum_exec_qty >= order.qty:
        order.status = OrderStatus.FILLED
    elif order.quote_qty is None:
        order.status = OrderStatus.PARTIALLY_FILLED
    ex = Execution(
        exec_id=str(uuid.uuid4()),
        uid=order.uid,
        inst=inst,
        order_id=order.order_id,
        order_link_id=order.order_link_id,
        side=order.side,
        order_type=order.order_type,
        order_price=order.price,
        order_qty=order.qty,
        leaves_qty=order.leaves_qty,
        exec_price=price,
        exec_qty=qty,
        exec_fee=fee,
        fee_rate=rate,
        fee_currency=fee_coin,
        is_maker=is_maker,
        exec_time_ms=now,
        mark_price=venue.market.price(inst.symbol),
        seq=seq,
        closed_size=closed,
        exec_pnl=pnl,
        market_unit=order.market_unit,
        create_type=order.create_type,
        exec_type=exec_type,
    )
    venue.record_execution(ex)
    journal.record_fill(venue.ledger, venue.next_seq, acct, ex, pnl)
    venue.market.record_trade(inst.symbol, now, price, qty)
    taker_side = order.side if not is_maker else ("Sell" if order.is_buy else "Buy")
    for listener in venue.trade_listeners:
        listener(inst, price, qty, taker_side, now)
    if venue.listening(order.uid):
        venue.emit(order.uid, "execution", [ex.to_wire(stream=True)])
        if exec_type == "Trade":
            venue.emit(order.uid, "execution.fast", [ex.to_fast_wire()])
    return ex


def publish_account(venue: VenueState, uid: int, symbols: set[str]) -> None:
    """Send the `position` (for these linear symbols) and `wallet` streams."""
    from paper_venue.router.wallet import position_wire, wallet_wire

    if not venue.listening(uid):
        return
    acct = venue.account(uid)
    rows: list[dict[str, object]] = []
    for symbol in sorted(symbols):
        pos = acct.positions.get(symbol)
        if pos is not None:
            wire = position_wire(venue, acct, pos)
            # The stream names the average entry price `entryPrice` (REST: `avgPrice`).
            rows.append({**wire, "entryPrice": wire["avgPrice"], "category": "linear"})
    if rows:
        venue.emit(uid, "position", rows)
    venue.emit(uid, "wallet", [wallet_wire(venue, acct)])


def publish_order(venue: VenueState, order: Order) -> None:
    if not venue.listening(order.uid):
        return
    venue.emit(order.uid, "order", [order.to_stream_wire()])
