"""Typed access to request parameters, refusing what Bybit would refuse.

GET parameters arrive as strings; POST bodies as JSON, where Bybit's string fields (qty,
price, amount, ...) must be strings, integer fields integers and boolean fields booleans.
Anything not declared for the endpoint is refused as an unknown parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from paper_venue.decimals import parse_decimal
from paper_venue.errors import params_error

PLAIN_DECIMAL = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,18})?$")
"""Numbers as Bybit's string fields carry them: no exponent, sign only for a minus."""


class Params:
    """One request's parameters; every accessor marks its name as known."""

    def __init__(self, values: dict[str, object], *, from_query: bool) -> None:
        self._values = values
        self._from_query = from_query
        self._seen: set[str] = set()

    def _get(self, name: str) -> object | None:
        self._seen.add(name)
        value = self._values.get(name)
        if value is None or value == "":
            return None
        return value

    def string(
        self, name: str, *, required: bool = False, choices: Iterable[str] = ()
    ) -> str | None:
        value = self._get(name)
        if value is None:
            if required:
                raise params_error(f"{name} is required")
            return None
        if not isinstance(value, str):
            raise params_error(f"{name} must be a string")
        allowed = list(choices)
        if allowed and value not in allowed:
            raise params_error(f"{name} invalid")
        if len(value) > 128:
            raise params_error(f"{name} too long")
        return value

    def req_string(self, name: str, *, choices: Iterable[str] = ()) -> str:
        value = self.string(name, required=True, choices=choices)
        assert value is not None
        return value

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self._get(name)
        if value is None:
            if required:
                raise params_error(f"{name} is required")
            return None
        if not isinstance(value, str):
            raise params_error(f"{name} must be a string")
        d = parse_decimal(value) if PLAIN_DECIMAL.match(value) else None
        if d is None:
            raise params_error(f"{name} invalid")
        return d

    def req_decimal(self, name: str) -> Decimal:
        value = self.decimal(name, required=True)
        assert value is not None
        return value

    def integer(
        self,
        name: str,
        *,
        default: int | None = None,
        low: int | None = None,
        high: int | None = None,
    ) -> int | None:
        value = self._get(name)
        if value is None:
            return default
        if self._from_query and isinstance(value, str):
            if not re.fullmatch(r"-?[0-9]{1,18}", value):
                raise params_error(f"{name} invalid")
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise params_error(f"{name} must be an integer")
        if (low is not None and number < low) or (high is not None and number > high):
            raise params_error(f"{name} out of range")
        return number

    def boolean(self, name: str) -> bool:
        value = self._get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if self._from_query and value in ("true", "false"):
            return value == "true"
        raise params_error(f"{name} must be a boolean")

    def accept(self, *names: str) -> None:
        """Documented parameters the venue takes but does not use."""
        self._seen.update(names)

    def refuse(self, *names: str) -> None:
        """Documented parameters the venue does not model: refused rather than ignored."""
        for name in names:
            if self._values.get(name) not in (None, "", "0", 0):
                raise params_error(f"{name} is not supported by the paper venue")
            self._seen.add(name)

    def done(self) -> None:
        """Refuse parameters the endpoint does not declare."""
        unknown = sorted(set(self._values) - self._seen)
        if unknown:
            raise params_error(f"unknown parameter {unknown[0]}")
