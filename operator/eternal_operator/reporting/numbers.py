"""Reading a figure of a status or a report as a Decimal (never a float)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
