"""The admin API (not part of Bybit's surface): faults, prices, clock, accounts, snapshots.

Plain JSON under /admin/. Every call needs header X-Admin-Token with the venue's token
(`admin_token.resolve`): without it, or with another, the answer is 401 whatever the path.
Errors are HTTP 400 with {"error": "..."} naming the field at fault; nothing here ever
touches the Bybit envelope. Amounts and prices are bounded (`amounts`), and snapshot paths
are names inside the data directory (`datadir`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paper_venue.amounts import MAX_AMOUNT, Amount, Balance, Coin, Price
from paper_venue.clock import ClockMode
from paper_venue.config import AccountSeed
from paper_venue.decimals import fmt_plain
from paper_venue.errors import BybitError
from paper_venue.router import admin_token, datadir, snapshot
from paper_venue.router.faults import Faults
from paper_venue.router.feed import ScriptedPath
from paper_venue.router.rest.user import create_sub_api
from paper_venue.router.venue import Venue
from paper_venue.router.ws import WebSockets

MAX_ADVANCE_STEPS = 1_000_000


class _Req(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaultsReq(_Req):
    latency_ms: int | None = Field(default=None, ge=0, le=60_000)
    rate_limit_storm: int | None = Field(default=None, ge=0)
    http_5xx: int | None = Field(default=None, ge=0)
    http_5xx_status: int | None = Field(default=None, ge=500, le=599)
    execution_delay_ms: int | None = Field(default=None, ge=0, le=60_000)
    drop_executions: int | None = Field(default=None, ge=0)


class PriceReq(_Req):
    symbol: str
    price: Price


class PauseReq(_Req):
    symbol: str | None = None
    paused: bool = True


class ScriptReq(_Req):
    symbol: str
    points: list[tuple[int, Price]] = Field(min_length=1, max_length=10_000)


class AdvanceReq(_Req):
    ms: int = Field(ge=0)
    step_ms: int = Field(default=1000, ge=1)


class AccountReq(_Req):
    username: str = Field(min_length=1, max_length=32)
    balances: dict[Coin, Balance] = Field(default_factory=dict, max_length=100)
    read_only: bool = False


class KeyReq(_Req):
    read_only: bool = False
    note: str = Field(default="", max_length=64)


class DepositReq(_Req):
    coin: Coin
    amount: Amount


class SnapshotReq(_Req):
    path: str = Field(min_length=1, max_length=255)
    """A file name inside the venue's data directory."""


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _explain(error: ValidationError) -> str:
    """A pydantic error as `field: what is wrong` (the field named, the value not echoed)."""
    parts = []
    for e in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in e["loc"]) or "body"
        parts.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


class Admin:
    """Admin routes bound to one venue."""

    def __init__(
        self,
        venue: Venue,
        faults: Faults,
        sockets: WebSockets,
        token: str,
        data_dir: Path,
        on_change: Callable[[], None],
    ) -> None:
        self.venue = venue
        self.faults = faults
        self.sockets = sockets
        self.token = token
        self.data_dir = data_dir
        self.on_change = on_change

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """401 for anything under /admin without the token, before routing or reading."""
        guarded = request.path == "/admin" or request.path.startswith("/admin/")
        given = request.headers.get(admin_token.HEADER)
        if guarded and not admin_token.matches(self.token, given):
            return web.json_response(
                {"error": f"admin token required in header {admin_token.HEADER}"}, status=401
            )
        return await handler(request)

    def routes(self) -> list[web.RouteDef]:
        p = "/admin"
        return [
            web.get(f"{p}/state", self._wrap(self.state)),
            web.post(f"{p}/faults", self._wrap(self.set_faults)),
            web.post(f"{p}/faults/clear", self._wrap(self.clear_faults)),
            web.post(f"{p}/ws/drop", self._wrap(self.drop_ws)),
            web.post(f"{p}/price", self._wrap(self.move_price)),
            web.post(f"{p}/feed/pause", self._wrap(self.pause)),
            web.post(f"{p}/feed/script", self._wrap(self.script)),
            web.post(f"{p}/clock/advance", self._wrap(self.advance)),
            web.post(f"{p}/accounts", self._wrap(self.create_account)),
            web.post(f"{p}/accounts/{{uid}}/keys", self._wrap(self.create_key)),
            web.post(f"{p}/accounts/{{uid}}/deposit", self._wrap(self.deposit)),
            web.post(f"{p}/snapshot", self._wrap(self.save)),
            web.post(f"{p}/restore", self._wrap(self.restore)),
        ]

    def _wrap(self, fn: Callable[[web.Request, dict[str, Any]], Any]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                raw = await request.read()
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                result = fn(request, body)
            except ValidationError as exc:
                return web.json_response({"error": _explain(exc)}, status=400)
            except (ValueError, KeyError, BybitError, OSError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            return web.json_response(result)

        return handler

    def _symbol(self, symbol: str) -> str:
        if symbol not in self.venue.market.states:
            raise ValueError(f"unknown symbol {symbol}")
        return symbol

    def state(self, request: web.Request, body: dict[str, Any]) -> Any:
        v = self.venue
        return {
            "now_ms": v.clock.now_ms(),
            "clock_mode": v.clock.mode.value,
            "prices": {s: fmt_plain(st.last) for s, st in v.market.states.items()},
            "paused": [s for s, st in v.market.states.items() if st.paused_at is not None],
            "faults": self.faults.as_dict(),
            "accounts": [
                {
                    "uid": a.uid,
                    "username": a.username,
                    "is_master": a.is_master,
                    "api_keys": sum(1 for k in v.keys.values() if k.uid == a.uid),
                }
                for a in v.accounts.values()
            ],
            "websocket_connections": len(self.sockets.connections),
            "websockets": [
                {"kind": c.kind, "uid": c.uid, "topics": sorted(c.topics)}
                for c in self.sockets.connections
            ],
            "next_funding_ms": v.next_funding_ms,
        }

    def set_faults(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = FaultsReq.model_validate(body)
        for name, value in req.model_dump(exclude_none=True).items():
            setattr(self.faults, name, value)
        return self.faults.as_dict()

    def clear_faults(self, request: web.Request, body: dict[str, Any]) -> Any:
        self.faults.clear()
        return self.faults.as_dict()

    def drop_ws(self, request: web.Request, body: dict[str, Any]) -> Any:
        return {"dropped": self.sockets.drop_all()}

    def move_price(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = PriceReq.model_validate(body)
        v = self.venue
        v.market.move(self._symbol(req.symbol), req.price, v.clock.now_ms())
        self.on_change()
        return {"symbol": req.symbol, "price": fmt_plain(v.market.price(req.symbol))}

    def pause(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = PauseReq.model_validate(body)
        symbols = [self._symbol(req.symbol)] if req.symbol else list(self.venue.market.states)
        for s in symbols:
            self.venue.market.pause(s, req.paused, self.venue.clock.now_ms())
        return {"paused": req.paused, "symbols": symbols}

    def script(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = ScriptReq.model_validate(body)
        if not isinstance(self.venue.source, ScriptedPath):
            raise ValueError("scripts need feed.kind=scripted")
        self.venue.source.set_script(
            self._symbol(req.symbol), req.points, self.venue.clock.now_ms()
        )
        return {"symbol": req.symbol, "points": len(req.points)}

    def advance(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = AdvanceReq.model_validate(body)
        clock = self.venue.clock
        if clock.mode is not ClockMode.STEPPED:
            raise ValueError("the clock is not stepped")
        remaining = req.ms
        steps = 0
        while remaining > 0 and steps < MAX_ADVANCE_STEPS:
            step = min(req.step_ms, remaining)
            clock.advance(step)
            self.venue.update()
            remaining -= step
            steps += 1
        if steps == 0:
            self.venue.update()
        return {"now_ms": clock.now_ms(), "steps": steps}

    def create_account(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = AccountReq.model_validate(body)
        v = self.venue
        acct = v.add_account(
            AccountSeed(username=req.username, balances=req.balances),
            is_master=False,
            parent=v.master_uid(),
        )
        key = create_sub_api(v, acct.uid, req.read_only, "admin")
        return {
            "uid": acct.uid,
            "username": acct.username,
            "api_key": key.key,
            "api_secret": key.secret,
        }

    def create_key(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = KeyReq.model_validate(body)
        uid = int(request.match_info["uid"])
        if uid not in self.venue.accounts:
            raise ValueError(f"unknown uid {uid}")
        key = create_sub_api(self.venue, uid, req.read_only, req.note)
        return {
            "uid": uid,
            "api_key": key.key,
            "api_secret": key.secret,
            "read_only": req.read_only,
        }

    def deposit(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = DepositReq.model_validate(body)
        uid = int(request.match_info["uid"])
        acct = self.venue.accounts.get(uid)
        if acct is None:
            raise ValueError(f"unknown uid {uid}")
        if acct.balance(req.coin) + req.amount > MAX_AMOUNT:
            raise ValueError(f"amount: the balance would exceed {MAX_AMOUNT:f}")
        acct.credit(req.coin, req.amount)
        return {"uid": uid, "coin": req.coin, "balance": fmt_plain(acct.balance(req.coin))}

    def _file(self, name: str) -> Path:
        try:
            return datadir.inside(self.data_dir, name)
        except datadir.OutsideDataDir as error:
            raise ValueError(f"path: {error}") from error

    def save(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = SnapshotReq.model_validate(body)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._file(req.path)
        snapshot.save(self.venue, path)
        return {"saved": req.path, "file": str(path)}

    def restore(self, request: web.Request, body: dict[str, Any]) -> Any:
        req = SnapshotReq.model_validate(body)
        path = self._file(req.path)
        snapshot.restore(self.venue, path)
        return {"restored": req.path, "now_ms": self.venue.clock.now_ms()}
