"""Request signing as Bybit V5 checks it: HMAC-SHA256 over the raw bytes.

The signed string is timestamp + api key + recv window + payload, where the payload is
the raw query string of a GET and the raw body of a POST, exactly as sent. The timestamp
must satisfy server_time - recv_window <= timestamp < server_time + 1000.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping

from paper_venue.errors import BybitError, Code
from paper_venue.ledger.accounts import ApiKey

FUTURE_TOLERANCE_MS = 1000
MAX_RECV_WINDOW_MS = 60_000


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256, as Bybit and pybit compute it."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class ReplayGuard:
    """Remembers signatures of state-changing requests for as long as they could be valid."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity

    def check_and_remember(self, signature: str, expires_ms: int, now_ms: int) -> None:
        while self._seen:
            oldest, expiry = next(iter(self._seen.items()))
            if expiry >= now_ms and len(self._seen) < self._capacity:
                break
            del self._seen[oldest]
        if signature in self._seen:
            raise BybitError(Code.DUPLICATE_REQUEST)
        self._seen[signature] = expires_ms


def verify(
    headers: Mapping[str, str],
    payload: str,
    keys: Mapping[str, ApiKey],
    now_ms: int,
    replay: ReplayGuard | None,
) -> ApiKey:
    """The key that validly signed this request, or the Bybit error saying why not."""
    key_id = headers.get("X-BAPI-API-KEY", "")
    signature = headers.get("X-BAPI-SIGN", "")
    ts_raw = headers.get("X-BAPI-TIMESTAMP", "")
    window_raw = headers.get("X-BAPI-RECV-WINDOW", "5000")
    if not key_id:
        raise BybitError(Code.API_KEY_INVALID)
    if not _ascii_digits(ts_raw) or not _ascii_digits(window_raw):
        raise BybitError(Code.TIMESTAMP, "invalid request, please check your timestamp")
    ts, window = int(ts_raw), int(window_raw)
    if window <= 0 or window > MAX_RECV_WINDOW_MS:
        raise BybitError(Code.PARAMS, "params error: recv_window invalid")
    if not (now_ms - window <= ts < now_ms + FUTURE_TOLERANCE_MS):
        raise BybitError(
            Code.TIMESTAMP,
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{ts}],server_timestamp[{now_ms}],recv_window[{window}]",
        )
    api_key = keys.get(key_id)
    if api_key is None:
        raise BybitError(Code.API_KEY_INVALID)
    if not signature:
        raise BybitError(Code.SIGN)
    expected = sign(api_key.secret, f"{ts_raw}{key_id}{window_raw}{payload}")
    if not hmac.compare_digest(expected, signature.lower()):
        raise BybitError(Code.SIGN)
    if replay is not None:
        replay.check_and_remember(signature, ts + window, now_ms)
    return api_key


def verify_ws_auth(args: list[object], keys: Mapping[str, ApiKey], now_ms: int) -> ApiKey:
    """A private WebSocket `auth` op: [api_key, expires_ms, hex(HMAC("GET/realtime" + expires))]."""
    if len(args) != 3 or not isinstance(args[0], str) or not isinstance(args[2], str):
        raise BybitError(Code.PARAMS, "Params Error")
    expires = args[1]
    if isinstance(expires, str) and _ascii_digits(expires):
        expires = int(expires)
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise BybitError(Code.PARAMS, "Params Error")
    if expires <= now_ms:
        raise BybitError(Code.TIMESTAMP, "Params Error, expires is expired")
    api_key = keys.get(args[0])
    if api_key is None:
        raise BybitError(Code.API_KEY_INVALID, "Invalid apikey")
    if not hmac.compare_digest(sign(api_key.secret, f"GET/realtime{expires}"), args[2].lower()):
        raise BybitError(Code.SIGN, "Invalid sign")
    return api_key
