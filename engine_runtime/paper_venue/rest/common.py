"""Parameter helpers shared by the REST areas."""

from __future__ import annotations

from engine_runtime.paper_venue.errors import params_error
from engine_runtime.paper_venue.instruments import Category
from engine_runtime.paper_venue.params import Params

KNOWN_CATEGORIES = ("spot", "linear", "inverse", "option")


def category(p: Params, *, required: bool = True) -> Category | None:
    """The `category` parameter; inverse and option are Bybit's but not listed here."""
    value = p.string("category", required=required, choices=KNOWN_CATEGORIES)
    if value is None:
        return None
    if value not in ("spot", "linear"):
        raise params_error(f"category {value} is not listed on the paper venue")
    return Category(value)


def req_category(p: Params) -> Category:
    cat = category(p)
    assert cat is not None
    return cat


def page(
    items: list[dict[str, object]], p: Params, default: int, high: int
) -> tuple[list[dict[str, object]], str]:
    """Cursor pagination: the cursor is the offset of the next page, as a string."""
    limit = p.integer("limit", default=default, low=1, high=high)
    cursor = p.string("cursor")
    start = 0
    if cursor:
        if not (cursor.isascii() and cursor.isdigit()):
            raise params_error("cursor invalid")
        start = int(cursor)
    assert limit is not None
    chunk = items[start : start + limit]
    next_cursor = str(start + limit) if start + limit < len(items) else ""
    return chunk, next_cursor
