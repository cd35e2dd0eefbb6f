"""Every orderLinkId comes from one function (`model.identifiers.order_link_id`): at most 36
characters of Bybit's alphabet, hashed and never truncated, and the same id as before for what
a runtime of an earlier version may have in flight."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from engine_runtime.strategies.interface import intent_id
from eternal_kernel.model.identifiers import (
    LINK_ID,
    client_order_id,
    flatten_order_id,
    order_link_id,
)

pytestmark = pytest.mark.unit


def old_emergency_id(request_id: str, what: str) -> str:
    """How the operator's emergency flatten (venue/emergency.py, removed) named its closes."""
    return f"ee-x-{request_id}-{what}"[:36]


def test_inputs_that_collided_under_truncation_get_different_ids() -> None:
    request = "20261203133107-fleet-a-engine-007"  # a shutdown request of a long-named engine
    assert old_emergency_id(request, "cBTCUSDT") == old_emergency_id(request, "cETHUSDT")
    purpose = f"shutdown:{request}"
    btc = flatten_order_id("uid-1", purpose, "linear:BTCUSDT:Sell", D("0.010"))
    eth = flatten_order_id("uid-1", purpose, "linear:ETHUSDT:Sell", D("0.010"))
    assert btc != eth
    policy = "a-policy-with-a-name-long-enough-to-be-cut"
    assert old_emergency_id(f"halt:{policy}:7", "x") == old_emergency_id(f"halt:{policy}:8", "x")
    assert intent_id("ns/e1", 1, f"halt:{policy}:7") != intent_id("ns/e1", 1, f"halt:{policy}:8")


def test_every_id_fits_bybit_whatever_its_input() -> None:
    long = "é:/ " * 100  # outside the alphabet, and far beyond 36 characters
    made = [
        order_link_id(prefix, *parts)
        for prefix, parts in itertools.product(
            ("ee", "fl"), [("",), (long,), ("a", "b"), (D("0.1"), 3, None)]
        )
    ]
    made += [intent_id("ns/" + "e" * 63, 2**63, long, D("1e-30")), client_order_id("k", long)]
    made += [flatten_order_id(long, long, long, D("123456789.123456789"), 99)]
    for link in made:
        assert LINK_ID.match(link), link
        assert len(link) <= 36
    assert len(set(made)) == len(made)


def test_parts_are_kept_apart_and_engines_never_share_an_id() -> None:
    assert order_link_id("ee", "a", "b") != order_link_id("ee", "a", "c")
    assert order_link_id("ee", "a") != order_link_id("fl", "a")  # a flatten is never an intent
    assert intent_id("ns/e1", 5, "BTCUSDT") != intent_id("ns/e2", 5, "BTCUSDT")
    assert client_order_id("ns/e1", "bad id!") != client_order_id("ns/e2", "bad id!")
    ok = intent_id("ns/e1", 5, "BTCUSDT")
    assert client_order_id("ns/e1", ok) == ok  # a strategy's id goes to the venue as it is


def test_ids_are_those_an_earlier_version_persisted_and_sent() -> None:
    """A restarted runtime finds its in-flight orders by the ids it recorded, and a strategy
    re-emitting a decision after an upgrade must send the same id (the venue refuses it as a
    duplicate instead of taking a second order): the recipe may not change. These are the ids
    the three functions made before they shared `order_link_id`."""
    assert intent_id("ns/e1", 1700000000000, "BTCUSDT", "flip", "Buy") == (
        "ee-df77c90be3f71420804f51e8fe978e1c"
    )
    assert client_order_id("ns/e1", "bad id!") == "ee-9e2d77cb13081830d3164d4e93a0864a"
    assert flatten_order_id("uid-1", "halt:eternal:7", "linear:BTCUSDT:Sell", "0.010", 0) == (
        "fl-5e33f818cb4142830ab692ad727a4d23"
    )
