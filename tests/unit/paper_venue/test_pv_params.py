"""Parameter typing: strings stay strings, integers integers, unknown names are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paper_venue.errors import BybitError, Code
from paper_venue.params import Params


@pytest.mark.unit
def test_json_numbers_are_refused_where_bybit_wants_strings() -> None:
    with pytest.raises(BybitError) as err:
        Params({"qty": 0.01}, from_query=False).decimal("qty")
    assert err.value.code is Code.PARAMS


@pytest.mark.unit
def test_decimal_strings_parse_exactly_and_garbage_is_refused() -> None:
    assert Params({"qty": "0.1"}, from_query=False).decimal("qty") == Decimal("0.1")
    for bad in ("abc", "NaN", "Infinity", "1e"):
        with pytest.raises(BybitError):
            Params({"qty": bad}, from_query=False).decimal("qty")


@pytest.mark.unit
def test_integers_from_query_and_body() -> None:
    assert Params({"limit": "5"}, from_query=True).integer("limit") == 5
    with pytest.raises(BybitError):
        Params({"limit": "5"}, from_query=False).integer("limit")
    with pytest.raises(BybitError):
        Params({"limit": True}, from_query=False).integer("limit")
    with pytest.raises(BybitError):
        Params({"limit": "500"}, from_query=True).integer("limit", high=200)


@pytest.mark.unit
def test_unknown_and_unsupported_parameters_are_refused() -> None:
    p = Params({"symbol": "BTCUSDT", "bogus": "1"}, from_query=False)
    p.string("symbol")
    with pytest.raises(BybitError, match="unknown parameter bogus"):
        p.done()
    q = Params({"takeProfit": "70000"}, from_query=False)
    with pytest.raises(BybitError, match="not supported"):
        q.refuse("takeProfit")


@pytest.mark.unit
def test_required_and_choices() -> None:
    with pytest.raises(BybitError, match="side is required"):
        Params({}, from_query=False).req_string("side")
    with pytest.raises(BybitError, match="side invalid"):
        Params({"side": "buy"}, from_query=False).req_string("side", choices=("Buy", "Sell"))


@pytest.mark.unit
@pytest.mark.parametrize("bad", ["1e-3", "+1", " 1", "1.", ".5", "0x10", "1,5", "\uff11"])
def test_only_plain_decimal_strings_are_numbers(bad: str) -> None:
    with pytest.raises(BybitError):
        Params({"qty": bad}, from_query=False).decimal("qty")
