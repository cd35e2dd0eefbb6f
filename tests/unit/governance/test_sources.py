"""Where governance reads equity from, and how transfers become flows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from eternal_operator.controllers.policy import sources

pytestmark = pytest.mark.unit


class FakePipeline:
    """Answers XREVRANGE from a dict, as redis.asyncio's pipeline would."""

    def __init__(self, streams: dict[str, list[tuple[bytes, dict[bytes, bytes]]]]) -> None:
        self.streams, self.keys = streams, []

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def xrevrange(self, key: str, count: int) -> None:
        self.keys.append(key)

    async def execute(self) -> list[Any]:
        return [self.streams.get(key, []) for key in self.keys]


class FakeRedis:
    def __init__(self, streams: dict[str, list[tuple[bytes, dict[bytes, bytes]]]]) -> None:
        self.streams = streams

    def pipeline(self, transaction: bool = False) -> FakePipeline:
        return FakePipeline(self.streams)


async def test_the_stream_wins_even_over_a_later_status_heartbeat() -> None:
    # The status was stamped after its wallet read; the stream entry is timed when measured.
    measured_ms = int(datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC).timestamp() * 1000)
    redis = FakeRedis({
        "ee:equity:fleet:a": [(b"1-0", {b"equity": b"1000", b"ts": str(measured_ms).encode()})]
    })  # fmt: skip
    status = {"equity": "1500", "heartbeat": "2026-01-01T12:00:01Z"}

    (obs,) = await sources.observe("fleet", [("a", status)], redis)

    assert obs.equity == Decimal(1000)
    assert obs.at == datetime.fromtimestamp(measured_ms / 1000, UTC)


async def test_without_a_stream_entry_the_status_serves() -> None:
    (obs,) = await sources.observe(
        "fleet", [("b", {"equity": "7", "heartbeat": "2026-01-01T12:00:01Z"})], FakeRedis({})
    )
    assert obs.equity == Decimal(7)


def test_transfers_across_the_portfolio_edge_are_flows_and_inside_it_zero() -> None:
    done = "2026-01-01T12:00:00.000001Z"
    transfers = [
        {"transferId": "in", "fromEngine": "master", "toEngine": "a", "amount": "10",
         "state": "Success", "time": done},
        {"transferId": "out", "fromEngine": "b", "toEngine": "master", "amount": "4",
         "state": "Success", "time": done},
        {"transferId": "inside", "fromEngine": "a", "toEngine": "b", "amount": "3",
         "state": "Success", "time": done},
        {"transferId": "other-portfolio", "fromEngine": "b", "toEngine": "x", "amount": "2",
         "state": "Success", "time": done},
        {"transferId": "elsewhere", "fromEngine": "master", "toEngine": "x", "amount": "7",
         "state": "Success", "time": done},
        {"transferId": "later", "fromEngine": "master", "toEngine": "a", "amount": "1",
         "state": "Pending", "time": done},
    ]  # fmt: skip
    flows = {f.id: (f.amount, f.engines, f.sent) for f in sources.flows(transfers, {"a", "b"})}
    assert flows == {
        "in": (Decimal(10), ("a",), Decimal(0)),
        "out": (Decimal(-4), ("b",), Decimal(4)),
        "inside": (Decimal(0), ("a", "b"), Decimal(3)),  # both must report after it
        "other-portfolio": (Decimal(-2), ("b",), Decimal(2)),
    }
    assert [f.id for f in sources.moving(transfers, {"a", "b"})] == ["later"]
    assert sources.moving(transfers, {"x"}) == []
    between = [
        {"transferId": "r", "fromEngine": "a", "toEngine": "b", "amount": "5", "state": "Planned"}
    ]
    (planned,) = sources.moving(between, {"a", "b"})
    assert (planned.amount, planned.sent) == (Decimal(0), Decimal(5))
