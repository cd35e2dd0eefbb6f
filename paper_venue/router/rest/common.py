"""Parameter helpers shared by the REST areas."""

from __future__ import annotations

from paper_venue.errors import params_error
from paper_venue.instruments import Category
from paper_venue.params import Params

KNOWN_CATEGORIES = ("spot", "linear", "inverse", "option")
DAY_MS = 86_400_000


def category(p: Params, *, required: bool = True) -> Category | None:
    """The `category` parameter; inverse and option are Bybit's but not listed here."""
    value = p.string("category", required=required, choices=KNOWN_CATEGORIES)
    if value is None:
        return None
    if value not in ("spot", "linear"):
        raise params_error(f"category {value} is not listed on the paper venue")
    return Category(value)


def listed_category(p: Params) -> Category | None:
    """A read endpoint's `category`: None for one Bybit serves (inverse, option) but the
    venue lists nothing in, which such endpoints answer with Bybit's empty result."""
    value = p.string("category", required=True, choices=KNOWN_CATEGORIES)
    if value in ("spot", "linear"):
        return Category(value)
    return None


def unlisted_symbol(symbol: str | None) -> None:
    """A symbol asked for in a category the venue lists nothing in: refused, as an
    unknown symbol is."""
    if symbol:
        raise params_error("symbol invalid")


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


def time_window(p: Params, now_ms: int, span_ms: int, max_ms: int | None = None) -> tuple[int, int]:
    """`startTime`/`endTime` as Bybit's history endpoints read them: neither, the last
    `span_ms`; only one, `span_ms` from (or up to) it; both, at most `max_ms` (by default
    `span_ms`) apart."""
    start = p.integer("startTime", low=0)
    end = p.integer("endTime", low=0)
    if start is None and end is None:
        return now_ms - span_ms, now_ms
    if end is None:
        assert start is not None
        return start, start + span_ms
    if start is None:
        return end - span_ms, end
    widest = max_ms if max_ms is not None else span_ms
    if end < start:
        raise params_error("endTime must not be before startTime")
    if end - start > widest:
        days = widest // DAY_MS
        raise params_error(f"the time range between startTime and endTime exceeds {days} days")
    return start, end
