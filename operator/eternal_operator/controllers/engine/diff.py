"""Compare before writing: is every field we want already what the live object has?"""

from __future__ import annotations

from typing import Any


def is_subset(desired: Any, live: Any) -> bool:
    """True when `live` already holds every field of `desired` with the same value.

    Fields the API server adds (defaults, status, managedFields) do not count as a difference;
    lists must match element by element, since order matters in them (env, containers).
    """
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(key in live and is_subset(value, live[key]) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
    return bool(desired == live)
