"""Applying a fill: order progress, wallet or position, fees, and the events they cause."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal

from paper_venue import ledger
from paper_venue.decimals import ZERO
from paper_venue.instruments import Category
from paper_venue.orders import Execution, Order, OrderStatus
from paper_venue.venue import Venue


def fee_rate(venue: Venue, category: Category, is_maker: bool) -> Decimal:
    fees = venue.settings.fees
    if category is Category.SPOT:
        return fees.spot_maker if is_maker else fees.spot_taker
    return fees.linear_maker if is_maker else fees.linear_taker


FEE_PLACES = Decimal("0.00000001")
"""Fees are charged in whole units of 8 decimals, the precision the venue reports them in."""


def execute(
    venue: Venue,
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
    rate = fee_rate(venue, inst.category, is_maker)
    value = price * qty
    closed = pnl = ZERO
    seq = venue.next_seq()
    if inst.category is Category.SPOT:
        if order.is_buy:
            fee = (qty * rate).quantize(FEE_PLACES, ROUND_HALF_UP)
            fee_coin = inst.base
            acct.credit(inst.quote, -value)
            acct.credit(inst.base, qty - fee)
            release = value if order.price is None else order.price * qty
            order.locked = max(ZERO, order.locked - release)
        else:
            fee = (value * rate).quantize(FEE_PLACES, ROUND_HALF_UP)
            fee_coin = inst.quote
            acct.credit(inst.base, -qty)
            acct.credit(inst.quote, value - fee)
            order.locked = max(ZERO, order.locked - qty)
    else:
        fee = (value * rate).quantize(FEE_PLACES, ROUND_HALF_UP)
        fee_coin = inst.quote
        pos = acct.position(inst.symbol, venue.default_leverage(inst))
        was_flat = pos.size == 0
        pnl, closed = pos.apply_fill(order.side, qty, price)
        pos.cur_realised -= fee
        if was_flat:
            pos.created_ms = now
        pos.updated_ms = now
        pos.seq = seq
        acct.credit("USDT", pnl - fee)
        if closed > 0:
            order.closed_pnl += pnl - fee * closed / qty
        for key in ("USDT", f"pos:{inst.symbol}"):
            acct.cum_realised[key] = acct.cum_realised.get(key, ZERO) + pnl - fee
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
    ledger.record_fill(venue, ex, pnl)
    venue.market.record_trade(inst.symbol, now, price, qty)
    taker_side = order.side if not is_maker else ("Sell" if order.is_buy else "Buy")
    for listener in venue.trade_listeners:
        listener(inst, price, qty, taker_side, now)
    if venue.listening(order.uid):
        venue.emit(order.uid, "execution", [ex.to_wire(stream=True)])
        if exec_type == "Trade":
            venue.emit(order.uid, "execution.fast", [ex.to_fast_wire()])
    return ex


def publish_account(venue: Venue, uid: int, symbols: set[str]) -> None:
    """Send the `position` (for these linear symbols) and `wallet` streams."""
    from paper_venue.wallet import position_wire, wallet_wire

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


def publish_order(venue: Venue, order: Order) -> None:
    if not venue.listening(order.uid):
        return
    venue.emit(order.uid, "order", [order.to_stream_wire()])
