"""Bybit V5 REST endpoints, one module per API area."""

from __future__ import annotations

from paper_venue.router.gateway import Endpoint
from paper_venue.router.rest import (
    account,
    asset,
    market,
    trade,
    transaction_log,
    transfer_records,
    user,
)


def all_endpoints() -> list[Endpoint]:
    """Every route the venue serves."""
    return [
        *market.ENDPOINTS,
        *trade.ENDPOINTS,
        *account.ENDPOINTS,
        *transaction_log.ENDPOINTS,
        *asset.ENDPOINTS,
        *transfer_records.ENDPOINTS,
        *user.ENDPOINTS,
    ]
