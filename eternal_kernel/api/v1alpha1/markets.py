"""The market vocabulary the strategies' parameters share: Bybit's kline intervals and the two
categories a strategy trades in."""

from __future__ import annotations

from enum import StrEnum


class KlineInterval(StrEnum):
    """Bybit V5 kline intervals (minutes, or D/W/M)."""

    M1 = "1"
    M5 = "5"
    M15 = "15"
    M30 = "30"
    H1 = "60"
    H4 = "240"
    D1 = "D"
    W1 = "W"


class MarketCategory(StrEnum):
    """Where a strategy trades: USDT perpetuals (long and short) or spot (long only)."""

    LINEAR = "linear"
    SPOT = "spot"
