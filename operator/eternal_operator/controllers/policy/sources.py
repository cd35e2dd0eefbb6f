"""Where governance reads from: engine snapshots (a kopf index), Redis equity streams, and the
transfers the allocation controller recorded (contributions and withdrawals)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from eternal_kernel.breaker.evaluate import Flow, Observation

EPOCH = datetime.fromtimestamp(0, UTC)


def equity_stream_key(namespace: str, engine: str) -> str:
    """The Redis stream a runtime appends its equity to (fields `equity`, `ts` in ms)."""
    return f"ee:equity:{namespace}:{engine}"


class RedisLike(Protocol):
    def pipeline(self, transaction: bool = ...) -> Any: ...


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _decimal(text: Any) -> Decimal | None:
    try:
        return Decimal(str(text)) if text not in (None, "") else None
    except InvalidOperation:
        return None


def from_status(name: str, runtime: Mapping[str, Any] | None) -> Observation:
    """The durable fallback: what the runtime last wrote into its Engine's status."""
    runtime = runtime or {}
    beat = parse_time(runtime.get("heartbeat"))
    return Observation(name, _decimal(runtime.get("equity")), beat, beat)


async def observe(
    namespace: str, engines: Iterable[tuple[str, Mapping[str, Any] | None]], redis: Any | None
) -> list[Observation]:
    """Each engine's equity: its Redis stream (timed when measured, by contract), else, with no
    stream entry, what its status last said."""
    engines = list(engines)
    observations = [from_status(name, runtime) for name, runtime in engines]
    if redis is None or not engines:
        return observations
    async with redis.pipeline(transaction=False) as pipe:
        for name, _ in engines:
            pipe.xrevrange(equity_stream_key(namespace, name), count=1)
        try:
            results = await pipe.execute()
        except Exception:  # Redis is the fast path; the status is the durable fallback
            return observations
    fresher = []
    for status_obs, entries in zip(observations, results, strict=True):
        if entries:
            entry, fields = entries[0]
            fields = {_s(k): _s(v) for k, v in fields.items()}
            at = datetime.fromtimestamp(int(fields.get("ts", 0)) / 1000, UTC)
            # The entry's id is Redis' own time of the XADD: when the runtime last spoke.
            heard = datetime.fromtimestamp(int(_s(entry).split("-")[0]) / 1000, UTC)
            equity = _decimal(fields.get("equity"))
            if equity is not None:
                fresher.append(Observation(status_obs.engine, equity, at, heard))
                continue
        fresher.append(status_obs)
    return fresher


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def flows(transfers: Iterable[Mapping[str, Any]], engines: set[str]) -> list[Flow]:
    """Completed transfers touching these engines, as portfolio flows.

    Money from outside (the master account, or an engine of another portfolio) flows in, money
    sent outside flows out. A transfer between two engines of the portfolio is a flow of zero:
    it changes no units, but the engines report their equity one at a time, so until both have
    reported after it the portfolio may look richer or poorer than it is.
    """
    done = (t for t in transfers if t.get("state") == "Success" and t.get("time"))
    return _as_flows(done, engines)


def moving(transfers: Iterable[Mapping[str, Any]], engines: set[str]) -> list[Flow]:
    """Transfers touching these engines that are planned or under way, as flows to come (timed
    when last recorded, or at the epoch)."""
    return _as_flows((t for t in transfers if t.get("state") in ("Planned", "Pending")), engines)


def _as_flows(transfers: Iterable[Mapping[str, Any]], engines: set[str]) -> list[Flow]:
    out = []
    for t in transfers:
        source, target = t.get("fromEngine"), t.get("toEngine")
        touched = tuple(str(e) for e in (source, target) if e in engines)
        if not touched:
            continue
        at = parse_time(t.get("time")) or EPOCH
        amount = _decimal(t.get("amount")) or Decimal(0)
        sign = (target in engines) - (source in engines)
        sent = amount if source in engines else Decimal(0)
        out.append(Flow(str(t["transferId"]), amount * sign, at, touched, sent))
    return out
