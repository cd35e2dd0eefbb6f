"""The REST front door: faults, size limits, signing, rate limits, parameters, envelope.

Handlers are plain functions `(ctx, params) -> result` registered as `Endpoint`s; this
module runs the checks in Bybit's order and wraps whatever comes back (or is raised) in
Bybit's envelope. No request ever gets an HTTP 500: unexpected exceptions are logged and
answered with retCode 10016.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from aiohttp import web

from paper_venue.clock import Clock
from paper_venue.errors import BybitError, Code, params_error
from paper_venue.ledger.accounts import ApiKey
from paper_venue.params import Params
from paper_venue.router.auth import ReplayGuard, verify
from paper_venue.router.faults import Faults
from paper_venue.router.ratelimit import LimitState, RateLimiter
from paper_venue.router.venue import Venue

log = logging.getLogger(__name__)

Permission = Literal["public", "read", "trade", "master"]
BODY_TIMEOUT_S = 10.0
"""A body that does not arrive in full within this long is refused, not waited for."""


@dataclass
class Ctx:
    """What a handler knows about the request it serves."""

    venue: Venue
    api_key: ApiKey | None

    @property
    def uid(self) -> int:
        assert self.api_key is not None
        return self.api_key.uid


Handler = Callable[[Ctx, Params], object]


@dataclass(frozen=True)
class Endpoint:
    """One Bybit route."""

    method: Literal["GET", "POST"]
    path: str
    handler: Handler
    permission: Permission


@dataclass
class Gate:
    """Shared request-processing state of one running venue."""

    venue: Venue
    limiter: RateLimiter
    faults: Faults
    replay: ReplayGuard
    max_body_bytes: int


def envelope(code: int, msg: str, result: object, now_ms: int) -> dict[str, object]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms}


def _json(
    body: dict[str, object], headers: dict[str, str] | None = None, status: int = 200
) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
        headers=headers,
        status=status,
    )


def _error(err: BybitError, limit: LimitState | None = None, status: int = 200) -> web.Response:
    body = envelope(int(err.code), err.message, {}, Clock.wall_ms())
    return _json(body, limit.headers() if limit else None, status)


class _Unparsed:
    """A request body that is not JSON (refused with 10001 once the request is let in)."""


UNPARSED = _Unparsed()


def _decode(method: str, query: str, body: str) -> list[tuple[str, str]] | object:
    """The request's parameters, decoded once: query pairs for GET, the JSON body for
    POST (None when empty, UNPARSED when not JSON)."""
    if method == "GET":
        return parse_qsl(query, keep_blank_values=True)
    if not body.strip():
        return None
    try:
        data: object = json.loads(body)
    except json.JSONDecodeError:
        return UNPARSED
    return data


def _parse(method: str, decoded: object) -> Params:
    if method == "GET":
        assert isinstance(decoded, list)
        values: dict[str, object] = {}
        for k, v in decoded:
            if k in values:
                raise params_error(f"duplicate parameter {k}")
            values[k] = v
        return Params(values, from_query=True)
    if decoded is None:
        return Params({}, from_query=False)
    if decoded is UNPARSED:
        raise params_error("request body is not valid JSON")
    if not isinstance(decoded, dict):
        raise params_error("request body must be a JSON object")
    return Params(decoded, from_query=False)


def make_handler(
    gate: Gate, endpoints: list[Endpoint]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The single aiohttp handler serving every Bybit path."""
    table: dict[tuple[str, str], Endpoint] = {(e.method, e.path): e for e in endpoints}
    paths = {e.path for e in endpoints}

    async def handle(request: web.Request) -> web.StreamResponse:
        faults = gate.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.take_5xx():
            return web.Response(
                status=faults.http_5xx_status, text="<html><body>Service Unavailable</body></html>"
            )
        endpoint = table.get((request.method, request.path))
        if endpoint is None:
            status = 405 if request.path in paths else 404
            return _error(BybitError(Code.ROUTE_NOT_FOUND), status=status)
        try:
            return await _serve(gate, endpoint, request)
        except BybitError as err:
            return _error(err)
        except Exception:
            log.exception("unexpected error serving %s %s", request.method, request.path)
            return _error(BybitError(Code.INTERNAL))

    return handle


def _category_hint(method: str, decoded: object) -> str | None:
    """The request's `category`, for limits that differ by category (best effort: a request
    that cannot be parsed is counted against the endpoint's general limit)."""
    if method == "GET":
        assert isinstance(decoded, list)
        value = dict(pair for pair in decoded if pair[1]).get("category")
    else:
        value = decoded.get("category") if isinstance(decoded, dict) else None
    return value if isinstance(value, str) else None


async def _read_all(request: web.Request, limit: int) -> bytes:
    """The whole body (as announced by Content-Length, or to EOF), at most limit + 1 bytes."""
    if request.content_length is not None:
        return await request.content.readexactly(request.content_length)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def _read_body(gate: Gate, request: web.Request) -> str:
    if request.content_length is not None and request.content_length > gate.max_body_bytes:
        raise params_error("request body too large")
    try:
        if request.content.is_eof():  # all of it is here already: nothing to wait for
            raw = await _read_all(request, gate.max_body_bytes)
        else:
            async with asyncio.timeout(BODY_TIMEOUT_S):  # no task per request (wait_for's)
                raw = await _read_all(request, gate.max_body_bytes)
    except (TimeoutError, asyncio.IncompleteReadError) as exc:
        raise params_error("request body incomplete") from exc
    if len(raw) > gate.max_body_bytes:
        raise params_error("request body too large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise params_error("request body is not UTF-8") from exc


async def _serve(gate: Gate, endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
    venue = gate.venue
    body = await _read_body(gate, request) if request.method == "POST" else ""
    query = request.query_string
    wall = Clock.wall_ms()
    api_key: ApiKey | None = None
    if endpoint.permission != "public":
        payload = query if request.method == "GET" else body
        api_key = verify(request.headers, payload, venue.keys, wall, None)
        who = f"uid:{api_key.uid}"
    else:
        who = f"ip:{request.remote}"
    decoded = _decode(request.method, query, body)
    category = _category_hint(request.method, decoded)
    if gate.faults.take_storm():
        storm = gate.limiter.exhausted(endpoint.path, wall, category)
        return _error(BybitError(Code.RATE_LIMIT), storm)
    limit = gate.limiter.hit(who, endpoint.path, wall, category)
    if limit is not None and not limit.allowed:
        return _error(BybitError(Code.RATE_LIMIT), limit)
    headers = limit.headers() if limit else {}
    try:
        if api_key is not None and request.method == "POST":
            # Only a request that will be processed spends its signature.
            window = int(request.headers.get("X-BAPI-RECV-WINDOW", "5000"))
            ts = int(request.headers["X-BAPI-TIMESTAMP"])
            gate.replay.check_and_remember(request.headers["X-BAPI-SIGN"], ts + window, wall)
        if api_key is not None:
            if endpoint.permission in ("trade", "master") and api_key.read_only:
                raise BybitError(Code.PERMISSION)
            if endpoint.permission == "master" and not venue.account(api_key.uid).is_master:
                raise BybitError(Code.PERMISSION)
        params = _parse(request.method, decoded)
        result = endpoint.handler(Ctx(venue, api_key), params)
    except BybitError as err:
        return _error(err, limit)
    return _json(envelope(0, "OK", result, wall), headers)
