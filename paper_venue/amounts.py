"""The bounds on money and prices the venue accepts from its configuration and admin API.

A Decimal can hold 1e400, and JSON can spell it: credited to a wallet, such a number makes
every later balance view fail (`quantize` overflows the context), so the wallet is broken for
good. Balances, deposits and prices are therefore finite, within `MAX_AMOUNT`, and carry no
more decimal places than the venue keeps: `COIN_PLACES` for coins (the precision of balances
and transfers), `PRICE_PLACES` for prices (rounded to the instrument's tick on arrival).

Bybit's own endpoints never see these: their string fields must be plain decimals
(`params.PLAIN_DECIMAL`, no exponent), and every amount they move is bounded by a balance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_AMOUNT = Decimal("1e15")
"""A thousand trillion: more than any coin's supply in its own units, far from 28 digits."""
COIN_PLACES = 8
"""Decimal places of balances, deposits and transfers (Bybit shows wallets to 8 places)."""
PRICE_PLACES = 18
"""Decimal places a price may be given with (the tick rounds it)."""


def places(value: Decimal) -> int:
    """Decimal places `value` needs ("1.50" needs one; "1E+3" none)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite values only
    return max(0, -exponent)


def check_amount(value: Decimal, *, max_places: int, allow_zero: bool) -> Decimal:
    """`value` if it is finite, positive (or zero when allowed), at most `MAX_AMOUNT` and
    written with at most `max_places` decimals; ValueError saying which rule it breaks."""
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError("must not be negative" if allow_zero else "must be positive")
    if value > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT:f}")
    if places(value) > max_places:
        raise ValueError(f"must have at most {max_places} decimal places")
    return value


def _balance(value: Decimal) -> Decimal:
    return check_amount(value, max_places=COIN_PLACES, allow_zero=True)


def _amount(value: Decimal) -> Decimal:
    return check_amount(value, max_places=COIN_PLACES, allow_zero=False)


def _price(value: Decimal) -> Decimal:
    return check_amount(value, max_places=PRICE_PLACES, allow_zero=False)


Balance = Annotated[Decimal, AfterValidator(_balance)]
"""A wallet balance at creation: zero or more."""
Amount = Annotated[Decimal, AfterValidator(_amount)]
"""Money that moves (a deposit): more than zero."""
Price = Annotated[Decimal, AfterValidator(_price)]
"""A price, or a multiplier of one."""
Coin = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,16}$")]
"""A coin's name as Bybit writes it (USDT, BTC, 1000PEPE)."""
