"""Transfers: between an account's own wallets, and between master and subaccounts.

A transferId is the idempotency key: repeating a transfer with the same id and the same
parameters answers as the first time without moving money again; the same id with other
parameters is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal

from paper_venue.decimals import ZERO, fmt_fixed8
from paper_venue.errors import BybitError, Code, params_error
from paper_venue.ledger import journal
from paper_venue.ledger.accounts import Account, Transfer
from paper_venue.params import Params
from paper_venue.router import fills
from paper_venue.router.gateway import Ctx, Endpoint
from paper_venue.router.venue import Venue
from paper_venue.router.wallet import locked, margin

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ACCOUNT_TYPES = ("UNIFIED", "FUND", "CONTRACT", "SPOT")


def _amount(p: Params) -> Decimal:
    amount = p.req_decimal("amount")
    if amount <= 0 or amount != amount.quantize(Decimal("0.00000001")):
        raise params_error("amount invalid")
    return amount


def _wallet(acct: Account, account_type: str) -> dict[str, Decimal]:
    if account_type == "UNIFIED":
        return acct.unified
    if account_type == "FUND":
        return acct.fund
    raise params_error(f"accountType {account_type} is not supported, use UNIFIED or FUND")


def _free(venue: Venue, acct: Account, account_type: str, coin: str) -> Decimal:
    if account_type == "FUND":
        return acct.fund.get(coin, ZERO)
    if coin == "USDT":
        return margin(venue, acct).available
    return acct.balance(coin) - locked(venue, acct.uid, coin)


def _move(venue: Venue, t: Transfer) -> dict[str, object]:
    existing = venue.transfers.get(t.transfer_id)
    if existing is not None:
        if existing.fingerprint != t.fingerprint:
            raise BybitError(Code.DUPLICATE_REQUEST)
        return {"transferId": t.transfer_id, "status": "SUCCESS"}
    source = venue.account(t.from_uid)
    target = venue.account(t.to_uid)
    src, dst = _wallet(source, t.from_type), _wallet(target, t.to_type)
    if src is dst:
        raise params_error("from and to accounts are the same")
    if _free(venue, source, t.from_type, t.coin) < t.amount:
        raise BybitError(Code.ASSET_INSUFFICIENT)
    src[t.coin] = src.get(t.coin, ZERO) - t.amount
    dst[t.coin] = dst.get(t.coin, ZERO) + t.amount
    venue.transfers[t.transfer_id] = t
    journal.record_transfer(venue.ledger, venue.next_seq, venue.accounts, t)
    for uid in {t.from_uid, t.to_uid}:
        fills.publish_account(venue, uid, set())
    return {"transferId": t.transfer_id, "status": "SUCCESS"}


def _common(p: Params) -> tuple[str, str, Decimal, str, str]:
    transfer_id = p.req_string("transferId")
    if not UUID.match(transfer_id):
        raise params_error("transferId must be a UUID")
    coin = p.req_string("coin")
    amount = _amount(p)
    from_type = p.req_string("fromAccountType", choices=ACCOUNT_TYPES)
    to_type = p.req_string("toAccountType", choices=ACCOUNT_TYPES)
    return transfer_id, coin, amount, from_type, to_type


def inter_transfer(ctx: Ctx, p: Params) -> object:
    transfer_id, coin, amount, from_type, to_type = _common(p)
    p.done()
    uid = ctx.uid
    fp = ("inter", uid, coin, str(amount), from_type, to_type)
    t = Transfer(
        transfer_id, coin, amount, uid, uid, from_type, to_type, ctx.venue.clock.now_ms(), fp
    )
    return _move(ctx.venue, t)


def universal_transfer(ctx: Ctx, p: Params) -> object:
    transfer_id, coin, amount, from_type, to_type = _common(p)
    from_uid = p.integer("fromMemberId")
    to_uid = p.integer("toMemberId")
    p.done()
    if from_uid is None or to_uid is None:
        raise params_error("fromMemberId and toMemberId are required")
    venue = ctx.venue
    master = ctx.uid
    family = {master} | {a.uid for a in venue.accounts.values() if a.parent_uid == master}
    if from_uid not in family or to_uid not in family:
        raise params_error("member id invalid")
    fp = ("universal", from_uid, to_uid, coin, str(amount), from_type, to_type)
    t = Transfer(
        transfer_id, coin, amount, from_uid, to_uid, from_type, to_type, venue.clock.now_ms(), fp
    )
    return _move(venue, t)


def coins_balance(ctx: Ctx, p: Params) -> object:
    account_type = p.req_string("accountType", choices=ACCOUNT_TYPES)
    member = p.integer("memberId")
    coins = p.string("coin")
    p.accept("withBonus")
    p.done()
    venue = ctx.venue
    uid = member if member is not None else ctx.uid
    acct = venue.accounts.get(uid)
    caller = venue.account(ctx.uid)
    if acct is None or (uid != ctx.uid and not (caller.is_master and acct.parent_uid == ctx.uid)):
        raise params_error("memberId invalid")
    wallet = _wallet(acct, account_type)
    names = coins.split(",") if coins else sorted(wallet)
    return {
        "accountType": account_type,
        "memberId": str(uid),
        "balance": [
            {
                "coin": c,
                "walletBalance": fmt_fixed8(wallet.get(c, ZERO)),
                "transferBalance": fmt_fixed8(max(ZERO, _free(venue, acct, account_type, c))),
                "bonus": "",
                "transferSafeAmount": "",
                "ltvTransferSafeAmount": "",
            }
            for c in names
        ],
    }


def listed_coins(venue: Venue) -> list[str]:
    """Every coin the venue trades: USDT and the base coin of each symbol."""
    bases = {inst.base for inst in venue.instruments.values()}
    return ["USDT", *sorted(bases - {"USDT"})]


def _chain(coin: str) -> dict[str, object]:
    """The paper venue moves coins only between its own accounts: one chain, named after
    the coin, with deposits and withdrawals suspended ("0") and no withdrawal fee ("")."""
    return {
        "chainType": coin,
        "confirmation": "0",
        "withdrawFee": "",
        "depositMin": "0",
        "withdrawMin": "0",
        "chain": coin,
        "chainDeposit": "0",
        "chainWithdraw": "0",
        "minAccuracy": "8",
        "withdrawPercentageFee": "0",
        "contractAddress": "",
        "safeConfirmNumber": "0",
        "withdrawMax": "0",
    }


def coin_info(ctx: Ctx, p: Params) -> object:
    coin = p.string("coin")
    p.done()
    names = [c for c in listed_coins(ctx.venue) if coin is None or c == coin]
    return {
        "rows": [{"name": c, "coin": c, "remainAmount": "0", "chains": [_chain(c)]} for c in names]
    }


ENDPOINTS = [
    Endpoint("POST", "/v5/asset/transfer/inter-transfer", inter_transfer, "trade"),
    Endpoint("POST", "/v5/asset/transfer/universal-transfer", universal_transfer, "master"),
    Endpoint("GET", "/v5/asset/transfer/query-account-coins-balance", coins_balance, "read"),
    Endpoint("GET", "/v5/asset/coin/query-info", coin_info, "read"),
]
