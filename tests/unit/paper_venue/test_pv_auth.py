"""Request signing, timestamps, replays and WebSocket auth."""

from __future__ import annotations

import pytest

from paper_venue.errors import BybitError, Code
from paper_venue.ledger.accounts import ApiKey
from paper_venue.router.auth import ReplayGuard, sign, verify, verify_ws_auth

KEY = ApiKey("KEYKEYKEY1", "SECRETSECRETSECRET", 1, read_only=False)
KEYS = {KEY.key: KEY}
NOW = 1_700_000_000_000


def headers(
    payload: str, ts: int = NOW, key: str = KEY.key, secret: str = KEY.secret
) -> dict[str, str]:
    return {
        "X-BAPI-API-KEY": key,
        "X-BAPI-TIMESTAMP": str(ts),
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": sign(secret, f"{ts}{key}5000{payload}"),
    }


@pytest.mark.unit
def test_a_correct_signature_over_the_raw_payload_is_accepted() -> None:
    payload = '{"category": "linear", "qty": "0.01"}'
    assert verify(headers(payload), payload, KEYS, NOW, ReplayGuard()) is KEY


@pytest.mark.unit
def test_the_signature_covers_the_exact_bytes() -> None:
    h = headers('{"qty": "0.01"}')
    with pytest.raises(BybitError) as err:
        verify(h, '{"qty":"0.01"}', KEYS, NOW, None)
    assert err.value.code is Code.SIGN


@pytest.mark.unit
@pytest.mark.parametrize(
    ("ts", "ok"), [(NOW - 5000, True), (NOW - 5001, False), (NOW + 999, True), (NOW + 1000, False)]
)
def test_timestamp_window(ts: int, ok: bool) -> None:
    if ok:
        verify(headers("", ts), "", KEYS, NOW, None)
        return
    with pytest.raises(BybitError) as err:
        verify(headers("", ts), "", KEYS, NOW, None)
    assert err.value.code is Code.TIMESTAMP
    assert "recv_window" in err.value.message


@pytest.mark.unit
def test_unknown_key_is_10003_and_wrong_secret_10004() -> None:
    with pytest.raises(BybitError) as err:
        verify(headers("", key="NOSUCHKEY1"), "", KEYS, NOW, None)
    assert err.value.code is Code.API_KEY_INVALID
    with pytest.raises(BybitError) as err:
        verify(headers("", secret="WRONGSECRETWRONGSECRET"), "", KEYS, NOW, None)
    assert err.value.code is Code.SIGN


@pytest.mark.unit
def test_a_replayed_signature_is_refused() -> None:
    guard = ReplayGuard()
    h = headers("{}")
    verify(h, "{}", KEYS, NOW, guard)
    with pytest.raises(BybitError) as err:
        verify(h, "{}", KEYS, NOW + 10, guard)
    assert err.value.code is Code.DUPLICATE_REQUEST


@pytest.mark.unit
def test_ws_auth_checks_expiry_key_and_signature() -> None:
    expires = NOW + 1000
    good = [KEY.key, expires, sign(KEY.secret, f"GET/realtime{expires}")]
    assert verify_ws_auth(good, KEYS, NOW) is KEY
    for args, code in [
        ([KEY.key, NOW - 1, sign(KEY.secret, f"GET/realtime{NOW - 1}")], Code.TIMESTAMP),
        (["NOPE", expires, good[2]], Code.API_KEY_INVALID),
        ([KEY.key, expires, "00" * 32], Code.SIGN),
        ([KEY.key], Code.PARAMS),
    ]:
        with pytest.raises(BybitError) as err:
            verify_ws_auth(args, KEYS, NOW)
        assert err.value.code is code
