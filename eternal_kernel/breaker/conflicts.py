"""One engine, one policy. When several policies select an engine, that is a conflict to be
fixed in Git; meanwhile the most restrictive of their directives is the one written into the
engine (a halt from any of them wins), and only its policy writes it, so the policies do not
overwrite each other."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def restrictiveness(content: Mapping[str, Any] | None) -> tuple[bool, bool, bool, Decimal, int]:
    """Orders directives: a halt over closing, closing over paused entries, then the smaller
    size multiplier, then the higher level. No directive is the least restrictive."""
    c = content or {}
    multiplier = Decimal(str(c.get("sizeMultiplier", 1)))
    return (
        bool(c.get("halt")),
        bool(c.get("closeDirectional")),
        bool(c.get("entriesPaused")),
        -multiplier,
        int(c.get("level") or 0),
    )


def writer(directives: Mapping[str, Mapping[str, Any] | None]) -> str:
    """Of the policies governing one engine (name -> its published directive), the one whose
    directive is written: the most restrictive, ties to the first name."""
    names = sorted(directives)
    return max(names, key=lambda name: restrictiveness(directives[name]))
