"""Transfer records: an account's own internal transfers, and universal transfers between
a master and its subaccounts. Newest first, 7 days by default, cursor-paged."""

from __future__ import annotations

from collections.abc import Callable

from paper_venue.decimals import fmt_plain
from paper_venue.ledger.accounts import Transfer
from paper_venue.params import Params
from paper_venue.router.gateway import Ctx, Endpoint
from paper_venue.router.rest.common import DAY_MS, page, time_window

STATUSES = ("SUCCESS", "PENDING", "FAILED")


def _records(ctx: Ctx, p: Params, mine: Callable[[Transfer], bool]) -> list[Transfer]:
    transfer_id = p.string("transferId")
    coin = p.string("coin")
    status = p.string("status", choices=STATUSES)
    start, end = time_window(p, ctx.venue.clock.now_ms(), 7 * DAY_MS)
    rows = [
        t
        for t in ctx.venue.transfers.values()
        if mine(t)
        and (transfer_id is None or t.transfer_id == transfer_id)
        and (coin is None or t.coin == coin)
        and status in (None, "SUCCESS")  # every transfer on the venue completes at once
        and start <= t.ts_ms <= end
    ]
    rows.sort(key=lambda t: t.ts_ms, reverse=True)
    return rows


def _wire(t: Transfer) -> dict[str, object]:
    return {
        "transferId": t.transfer_id,
        "coin": t.coin,
        "amount": fmt_plain(t.amount),
        "fromAccountType": t.from_type,
        "toAccountType": t.to_type,
        "timestamp": str(t.ts_ms),
        "status": "SUCCESS",
    }


def inter_transfer_list(ctx: Ctx, p: Params) -> object:
    uid = ctx.uid
    rows = _records(ctx, p, lambda t: t.fingerprint[0] == "inter" and t.from_uid == uid)
    items, cursor = page([_wire(t) for t in rows], p, 20, 50)
    p.done()
    return {"list": items, "nextPageCursor": cursor}


def universal_transfer_list(ctx: Ctx, p: Params) -> object:
    venue = ctx.venue
    uid = ctx.uid
    family = {uid}
    if venue.account(uid).is_master:
        family |= {a.uid for a in venue.accounts.values() if a.parent_uid == uid}

    def mine(t: Transfer) -> bool:
        return t.fingerprint[0] == "universal" and (t.from_uid in family or t.to_uid in family)

    rows = _records(ctx, p, mine)
    wire = [
        {**_wire(t), "fromMemberId": str(t.from_uid), "toMemberId": str(t.to_uid)} for t in rows
    ]
    items, cursor = page(wire, p, 20, 50)
    p.done()
    return {"list": items, "nextPageCursor": cursor}


ENDPOINTS = [
    Endpoint("GET", "/v5/asset/transfer/query-inter-transfer-list", inter_transfer_list, "read"),
    Endpoint(
        "GET", "/v5/asset/transfer/query-universal-transfer-list", universal_transfer_list, "read"
    ),
]
