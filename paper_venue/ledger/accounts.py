"""Accounts (a master and its subaccounts), their API keys, wallets and positions.

Each account has a unified wallet (UNIFIED: spot coins, and USDT that margins linear
positions) and a funding wallet (FUND) that only transfers touch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from paper_venue.decimals import ZERO
from paper_venue.ledger.positions import Position


@dataclass
class ApiKey:
    """An API key; the secret is only ever compared, never logged or returned again."""

    key: str
    secret: str = field(repr=False)
    uid: int
    read_only: bool
    note: str = ""
    created_ms: int = 0
    key_id: int = 0


@dataclass
class Account:
    """A member: master (main account) or subaccount."""

    uid: int
    username: str
    is_master: bool
    parent_uid: int | None
    created_ms: int
    unified: dict[str, Decimal] = field(default_factory=dict)
    fund: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, Decimal] = field(default_factory=dict)
    cum_realised: dict[str, Decimal] = field(default_factory=dict)
    note: str = ""
    dcp_window_s: int = 0

    def balance(self, coin: str) -> Decimal:
        return self.unified.get(coin, ZERO)

    def credit(self, coin: str, amount: Decimal) -> None:
        self.unified[coin] = self.unified.get(coin, ZERO) + amount

    def position(self, symbol: str, default_leverage: Decimal) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = Position(symbol=symbol, leverage=self.leverage.get(symbol, default_leverage))
            self.positions[symbol] = pos
        return pos


@dataclass
class Transfer:
    """A completed transfer, kept so a repeated transferId answers the same."""

    transfer_id: str
    coin: str
    amount: Decimal
    from_uid: int
    to_uid: int
    from_type: str
    to_type: str
    ts_ms: int
    fingerprint: tuple[object, ...]
