"""Users: create subaccounts and their API keys, list them, describe the calling key."""

from __future__ import annotations

import re
import secrets
import string

from paper_venue.config import AccountSeed
from paper_venue.errors import params_error
from paper_venue.ledger.accounts import ApiKey
from paper_venue.params import Params
from paper_venue.router.gateway import Ctx, Endpoint
from paper_venue.router.venue import Venue

USERNAME = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z\d]{6,16}$")
_ALPHABET = string.ascii_letters + string.digits


def _token(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def _permissions(read_only: bool) -> dict[str, list[str]]:
    """Bybit's permission groups (user/apikey-info.mdx), granted as the venue models them:
    trading and transfers, or nothing for a read-only key."""
    return {
        "ContractTrade": [] if read_only else ["Order", "Position"],
        "Spot": [] if read_only else ["SpotTrade"],
        "Wallet": [] if read_only else ["AccountTransfer"],
        "Options": [],
        "Derivatives": [] if read_only else ["DerivativesTrade"],
        "CopyTrading": [],
        "BlockTrade": [],
        "Exchange": [],
        "NFT": [],
        "Affiliate": [],
        "Earn": [],
        "FiatP2P": [],
        "FiatConvertBroker": [],
        "FiatGlobalPay": [],
        "FiatBitPay": [],
        "BitCard": [],
        "ByXPost": [],
    }


def create_sub_member(ctx: Ctx, p: Params) -> object:
    username = p.req_string("username")
    member_type = p.integer("memberType")
    p.integer("switch", low=0, high=1)
    p.boolean("isUta")
    note = p.string("note") or ""
    p.accept("password")
    p.done()
    if not USERNAME.match(username):
        raise params_error("username must be 6-16 letters and digits, with both")
    if member_type != 1:
        raise params_error("memberType only support 1")
    venue = ctx.venue
    acct = venue.add_account(AccountSeed(username=username), is_master=False, parent=ctx.uid)
    acct.note = note
    return {
        "uid": str(acct.uid),
        "username": username,
        "memberType": 1,
        "status": 1,
        "remark": note,
    }


def create_sub_api(venue: Venue, subuid: int, read_only: bool, note: str) -> ApiKey:
    """Issue a key for a subaccount (REST and admin API)."""
    return venue.add_key(subuid, _token(18), _token(36), read_only=read_only, note=note)


def create_sub_api_key(ctx: Ctx, p: Params) -> object:
    subuid = p.integer("subuid")
    read_only = p.integer("readOnly", default=0, low=0, high=1)
    note = p.string("note") or ""
    p.accept("ips", "permissions")
    p.done()
    venue = ctx.venue
    sub = venue.accounts.get(subuid) if subuid is not None else None
    if sub is None or sub.parent_uid != ctx.uid:
        raise params_error("subuid invalid")
    key = create_sub_api(venue, sub.uid, bool(read_only), note)
    return {
        "id": str(key.key_id),
        "note": note,
        "apiKey": key.key,
        "readOnly": read_only,
        "secret": key.secret,
        "permissions": _permissions(bool(read_only)),
    }


def query_sub_members(ctx: Ctx, p: Params) -> object:
    p.done()
    subs = [a for a in ctx.venue.accounts.values() if a.parent_uid == ctx.uid]
    return {
        "subMembers": [
            {
                "uid": str(a.uid),
                "username": a.username,
                "memberType": 1,
                "status": 1,
                "remark": a.note,
                "accountMode": 3,
            }
            for a in subs
        ]
    }


def query_api(ctx: Ctx, p: Params) -> object:
    p.done()
    key = ctx.api_key
    assert key is not None
    acct = ctx.venue.account(key.uid)
    return {
        "id": str(key.key_id),
        "note": key.note,
        "apiKey": key.key,
        "readOnly": int(key.read_only),
        "secret": "",
        "permissions": _permissions(key.read_only),
        "ips": ["*"],
        "type": 1,
        "deadlineDay": -1,
        "expiredAt": "",
        "createdAt": str(key.created_ms),
        "unified": 0,
        "uta": 1,
        "userID": key.uid,
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": acct.is_master,
        "parentUid": str(acct.parent_uid or 0),
        "kycLevel": "LEVEL_DEFAULT",
        "kycRegion": "",
        "userIDInt64": str(key.uid),
        "inviterIDInt64": "0",
        "affiliateIDInt64": "0",
    }


ENDPOINTS = [
    Endpoint("POST", "/v5/user/create-sub-member", create_sub_member, "master"),
    Endpoint("POST", "/v5/user/create-sub-api", create_sub_api_key, "master"),
    Endpoint("GET", "/v5/user/query-sub-members", query_sub_members, "master"),
    Endpoint("GET", "/v5/user/query-api", query_api, "read"),
]
