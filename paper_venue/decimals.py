"""Decimal helpers: parsing wire strings and formatting numbers the way Bybit sends them."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal(0)


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a wire value (string or JSON number), or None if it is not one.

    Booleans are refused: JSON `true` is not a quantity.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def decimals_of(step: Decimal) -> int:
    """Number of decimal places a tick or step size carries."""
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))


def fmt(value: Decimal, places: int) -> str:
    """Fixed-point string with `places` decimals (rounding half up)."""
    q = Decimal(1).scaleb(-places)
    return str(value.quantize(q, rounding=ROUND_HALF_UP))


def fmt_plain(value: Decimal) -> str:
    """Shortest plain string (no exponent), as Bybit sends fees and balances."""
    if value == 0:
        return "0"
    s = format(value.normalize(), "f")
    return s


def fmt_fixed8(value: Decimal) -> str:
    """Balances and PnL: up to 8 decimals, trailing zeros dropped."""
    return fmt_plain(value.quantize(Decimal("0.00000001"), rounding=ROUND_DOWN))


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Whether `value` is an exact multiple of `step`."""
    return (value % step) == 0


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of `step` not above `value`."""
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step
