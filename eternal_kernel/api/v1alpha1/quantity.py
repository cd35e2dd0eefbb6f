"""Kubernetes resource quantities ("500m", "512Mi", 2) as the Engine's `spec.resources` takes
them, checked alike by the CRD (CEL) and by Python.

Kubernetes' own parser accepts oddities ("e3", "."), so the API takes a plain subset of its
grammar, the same regular expression on both sides, and the CEL rule asks `isQuantity()` as
well; a value this subset accepts, Kubernetes parses. No sign: a resource is never negative.
"""

from __future__ import annotations

import re
from decimal import Decimal

RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
"""The resources a runtime container may request or be limited to."""

QUANTITY_MAX_LENGTH = 64
QUANTITY_PATTERN = (
    r"^([0-9]+([.][0-9]*)?|[.][0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?[0-9]{1,3})?$"
)
QUANTITY_MESSAGE = "must be a Kubernetes quantity such as 250m, 1.5, 512Mi or 2Gi"

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_REGEX = re.compile(QUANTITY_PATTERN)


def _text(value: int | str) -> str:
    return str(value) if isinstance(value, int) else value


def is_quantity(value: int | str) -> bool:
    """True when `value` is a quantity in the API's grammar (what the CEL rule accepts)."""
    if isinstance(value, bool):
        return False
    text = _text(value)
    return len(text) <= QUANTITY_MAX_LENGTH and _REGEX.fullmatch(text) is not None


def parse(value: int | str) -> Decimal:
    """The exact amount of a quantity `is_quantity` accepts (cores, bytes)."""
    text = _text(value)
    match = _REGEX.fullmatch(text)
    if match is None or len(text) > QUANTITY_MAX_LENGTH:
        raise ValueError(f"{text!r} {QUANTITY_MESSAGE}")
    number, suffix = Decimal(match.group(1)), match.group(3) or ""
    if suffix in _BINARY:
        return number * Decimal(1024) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    return number.scaleb(int(suffix[1:]))


VALUE_RULE = f"string(self).matches('{QUANTITY_PATTERN}') && isQuantity(string(self))"
"""CEL on one request or limit value (an int or a string)."""

NAMES_RULE = "self.all(k, k in [" + ", ".join(f"'{n}'" for n in RESOURCE_NAMES) + "])"
"""CEL on a requests or limits map: only the resource names above."""

WITHIN_LIMITS_RULE = (
    "!has(self.requests) || !has(self.limits) || self.requests.all(k, !(k in self.limits) || "
    "!isQuantity(string(self.requests[k])) || !isQuantity(string(self.limits[k])) || "
    "!quantity(string(self.requests[k])).isGreaterThan(quantity(string(self.limits[k]))))"
)
"""CEL on `resources`: no request above the limit of the same resource (the Deployment's pod
template would be refused)."""
