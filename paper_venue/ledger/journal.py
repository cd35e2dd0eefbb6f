"""The unified wallet's transaction log: every cash change of an account, by coin, with
the balance after it, as /v5/account/transaction-log lists it.

Entries are written where money moves: fills (TRADE, or LIQUIDATION for a takeover),
funding (SETTLEMENT) and transfers in and out of the unified wallet.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from paper_venue.decimals import ZERO, fmt, fmt_fixed8, fmt_plain
from paper_venue.instruments import Category
from paper_venue.ledger.accounts import Account, Transfer
from paper_venue.matching.orders import Execution

KEPT = 10_000
"""Entries kept per account; older ones are forgotten."""
TRADE_TYPES = {"Trade": "TRADE", "BustTrade": "LIQUIDATION"}


@dataclass(frozen=True)
class LedgerEntry:
    """One cash change of one coin in one account's unified wallet."""

    entry_id: str
    type: str
    time_ms: int
    currency: str
    cash_flow: Decimal
    cash_balance: Decimal
    fee: Decimal = ZERO
    funding: Decimal | None = None
    category: str = ""
    symbol: str = ""
    base: str = ""
    side: str = "None"
    qty: Decimal | None = None
    size: Decimal | None = None
    trade_price: Decimal | None = None
    fee_rate: Decimal | None = None
    trade_id: str = ""
    order_id: str = ""
    order_link_id: str = ""
    qty_decimals: int = 8
    price_decimals: int = 8

    @property
    def change(self) -> Decimal:
        """Bybit's `change`: cashFlow + funding - fee."""
        return self.cash_flow + (self.funding or ZERO) - self.fee

    def to_wire(self) -> dict[str, object]:
        def opt(value: Decimal | None, places: int) -> str:
            return fmt(value, places) if value is not None else ""

        return {
            "transSubType": "",
            "id": self.entry_id,
            "symbol": self.symbol,
            "side": self.side,
            "funding": fmt_fixed8(self.funding) if self.funding is not None else "",
            "orderLinkId": self.order_link_id,
            "orderId": self.order_id,
            "fee": fmt(self.fee, 8),
            "change": fmt_fixed8(self.change),
            "cashFlow": fmt_fixed8(self.cash_flow),
            "transactionTime": str(self.time_ms),
            "type": self.type,
            "feeRate": fmt_plain(self.fee_rate) if self.fee_rate is not None else "",
            "bonusChange": "",
            "size": opt(self.size, self.qty_decimals),
            "qty": opt(self.qty, self.qty_decimals),
            "cashBalance": fmt(self.cash_balance, 8),
            "currency": self.currency,
            "category": self.category,
            "tradePrice": opt(self.trade_price, self.price_decimals),
            "tradeId": self.trade_id,
            "extraFees": "",
        }


Entries = dict[int, deque[LedgerEntry]]
"""Each account's transaction log, newest first."""


def _add(entries: Entries, uid: int, entry: LedgerEntry) -> None:
    entries.setdefault(uid, deque(maxlen=KEPT)).appendleft(entry)


def _id(next_seq: Callable[[], int], uid: int, name: str) -> str:
    return f"{uid}_{name}_{next_seq()}"


def record_fill(
    entries: Entries, next_seq: Callable[[], int], acct: Account, ex: Execution, pnl: Decimal
) -> None:
    """A fill's cash changes: linear, one USDT entry (realised PnL and fee); spot, one entry
    per coin (the coin received, with the fee charged in it, and the coin paid)."""
    inst = ex.inst
    base = LedgerEntry(
        entry_id="",
        type=TRADE_TYPES.get(ex.exec_type, "TRADE"),
        time_ms=ex.exec_time_ms,
        currency=inst.quote,
        cash_flow=pnl,
        cash_balance=acct.balance(inst.quote),
        fee=ex.exec_fee,
        category=inst.category.value,
        symbol=inst.symbol,
        base=inst.base,
        side=ex.side,
        qty=ex.exec_qty,
        trade_price=ex.exec_price,
        fee_rate=ex.fee_rate,
        trade_id=ex.exec_id,
        order_id=ex.order_id,
        order_link_id=ex.order_link_id,
        qty_decimals=inst.qty_decimals,
        price_decimals=inst.price_decimals,
    )
    if inst.category is Category.LINEAR:
        pos = acct.positions.get(inst.symbol)
        size = pos.size if pos is not None else ZERO
        entry_id = _id(next_seq, ex.uid, inst.symbol)
        _add(entries, ex.uid, replace(base, entry_id=entry_id, size=size))
        return
    value = ex.exec_qty * ex.exec_price
    buy = ex.side == "Buy"
    got, paid = (inst.base, inst.quote) if buy else (inst.quote, inst.base)
    got_amount, paid_amount = (ex.exec_qty, value) if buy else (value, ex.exec_qty)
    for coin, flow, fee in ((got, got_amount, ex.exec_fee), (paid, -paid_amount, ZERO)):
        entry = replace(
            base,
            entry_id=_id(next_seq, ex.uid, inst.symbol),
            currency=coin,
            cash_flow=flow,
            cash_balance=acct.balance(coin),
            fee=fee,
            qty=flow,
            qty_decimals=8,
        )
        _add(entries, ex.uid, entry)


def record_funding(
    entries: Entries, next_seq: Callable[[], int], acct: Account, ex: Execution, payment: Decimal
) -> None:
    """A funding settlement: `payment` is what the position paid (negative: received)."""
    inst = ex.inst
    pos = acct.positions.get(inst.symbol)
    _add(
        entries,
        ex.uid,
        LedgerEntry(
            entry_id=_id(next_seq, ex.uid, inst.symbol),
            type="SETTLEMENT",
            time_ms=ex.exec_time_ms,
            currency=inst.quote,
            cash_flow=ZERO,
            cash_balance=acct.balance(inst.quote),
            funding=-payment,
            category=inst.category.value,
            symbol=inst.symbol,
            base=inst.base,
            side=ex.side,
            qty=ex.exec_qty,
            size=pos.size if pos is not None else ZERO,
            trade_price=ex.exec_price,
            fee_rate=ex.fee_rate if ex.side == "Buy" else -ex.fee_rate,
            trade_id=ex.exec_id,
            qty_decimals=inst.qty_decimals,
            price_decimals=inst.price_decimals,
        ),
    )


def record_transfer(
    entries: Entries, next_seq: Callable[[], int], accounts: Mapping[int, Account], t: Transfer
) -> None:
    """A transfer out of and/or into a unified wallet."""
    for uid, account_type, sign, kind in (
        (t.from_uid, t.from_type, Decimal(-1), "TRANSFER_OUT"),
        (t.to_uid, t.to_type, Decimal(1), "TRANSFER_IN"),
    ):
        if account_type != "UNIFIED":
            continue
        _add(
            entries,
            uid,
            LedgerEntry(
                entry_id=_id(next_seq, uid, t.coin),
                type=kind,
                time_ms=t.ts_ms,
                currency=t.coin,
                cash_flow=sign * t.amount,
                cash_balance=accounts[uid].balance(t.coin),
            ),
        )
