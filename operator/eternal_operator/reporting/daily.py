"""The daily report: per engine and per portfolio (a CircuitBreakerPolicy's engines).

Two sources. The Kubernetes status (always reachable) holds today only: each runtime's equity,
PnL since 00:00 UTC, drawdown, positions; each policy's equity, NAV per unit against the day's
opening NAV, drawdown, level. PostgreSQL, where the runtimes book every execution, closed trade
and an equity snapshot a minute, and governance every level change, gives any day: equity at
its open and close, the deepest drawdown, trades, fills, fees and realized PnL. Reaching it
takes a URL (`--database-url` or `EE_DATABASE_URL`): in a cluster the database has no public
endpoint, so through `kubectl port-forward` or from a pod.

The operator builds the same report from the database at 00:00 UTC for the day just closed, adds
each portfolio's NAV per unit, high-water mark, drawdown and level as its policy's status holds
them at the close (`with_close_of_policies`), and stores it (`daily_reports`): `read_stored`
reads it back, so a past day shows the portfolio as it closed.

Day PnL nets out the transfers the Allocations recorded (their status: the transfers still
listed there, with their time); a transfer no longer listed would count as PnL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from .numbers import decimal

Obj = Mapping[str, Any]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _text(value: Decimal | None, places: int = 2) -> str | None:
    return None if value is None else f"{value:.{places}f}"


def _policy_engines(policies: Iterable[Obj]) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for p in policies:
        meta = p.get("metadata") or {}
        status = p.get("status") or {}
        names = sorted(set(status.get("engines") or []) | set(status.get("haltedEngines") or []))
        out[(str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = names
    return out


def _portfolio(
    key: tuple[str, str], names: list[str], engines: Mapping[tuple[str, str], dict[str, Any]]
) -> dict[str, Any]:
    rows = [engines[(key[0], n)] for n in names if (key[0], n) in engines]

    def total(field_name: str) -> str | None:
        values = [decimal(r.get(field_name)) for r in rows]
        known = [v for v in values if v is not None]
        return _text(sum(known, Decimal(0))) if known and len(known) == len(values) else None

    return {
        "namespace": key[0],
        "policy": key[1],
        "engines": names,
        "equity": total("equity"),
        "dayPnl": total("dayPnl"),
        "trades": None
        if not rows or any(r.get("trades") is None for r in rows)
        else sum(int(r["trades"]) for r in rows),
        "fees": _sum_fees(r.get("fees") for r in rows),
    }


def _sum_fees(fees: Iterable[Any]) -> dict[str, str] | None:
    total: dict[str, Decimal] = {}
    seen = False
    for f in fees:
        if f is None:
            continue
        seen = True
        for coin, amount in dict(f).items():
            total[coin] = total.get(coin, Decimal(0)) + Decimal(str(amount))
    return {c: f"{v.normalize():f}" for c, v in sorted(total.items())} if seen else None


def report_from_status(
    engines: Iterable[Obj], policies: Iterable[Obj], now: datetime
) -> dict[str, Any]:
    """Today's report from what the objects' status holds (no trades, no fees: not there)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for e in engines:
        meta, status = e.get("metadata") or {}, e.get("status") or {}
        runtime, gov = status.get("runtime") or {}, status.get("governance") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        rows[key] = {
            "namespace": key[0],
            "name": key[1],
            "equity": runtime.get("equity"),
            "dayPnl": runtime.get("dayPnl"),
            "drawdown": runtime.get("drawdown"),
            "maxDrawdown": None,
            "level": int(gov.get("level") or 0),
            "halted": bool(gov.get("halt")),
            "trades": None,
            "fills": None,
            "fees": None,
            "realizedPnl": None,
        }
    policies = list(policies)
    portfolios = []
    for key, names in sorted(_policy_engines(policies).items()):
        p = next(p for p in policies if ((p.get("metadata") or {}).get("name")) == key[1]
                 and (p.get("metadata") or {}).get("namespace", "") == key[0])  # fmt: skip
        status = p.get("status") or {}
        nav, day_open = decimal(status.get("navPerUnit")), decimal(status.get("dayOpenNav"))
        portfolio = _portfolio(key, names, rows)
        portfolio.update({
            "equity": status.get("equity") or portfolio["equity"],
            "dayReturn": None if nav is None or not day_open else f"{nav / day_open - 1:.6f}",
            "drawdown": status.get("drawdown"),
            "level": int(status.get("level") or 0),
            "halted": bool(status.get("halted")),
            "levelChanges": [
                h for h in status.get("history") or []
                if (when := _day_of(h.get("time"))) is not None and when == now.date()
            ],
        })  # fmt: skip
        portfolios.append(portfolio)
    return {
        "day": now.astimezone(UTC).date().isoformat(),
        "source": "status",
        "engines": [rows[k] for k in sorted(rows)],
        "portfolios": portfolios,
        "missing": [
            "trades, fills and fees: the Kubernetes status does not hold them; pass "
            "--database-url (or EE_DATABASE_URL) to read them from PostgreSQL",
        ],
    }


def _day_of(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).date()
    except ValueError:
        return None


@dataclass
class DayRows:
    """What the database holds for one day, per engine key (`namespace/name`)."""

    open_equity: dict[str, Decimal] = field(default_factory=dict)
    close_equity: dict[str, Decimal] = field(default_factory=dict)
    max_drawdown: dict[str, Decimal] = field(default_factory=dict)
    close_drawdown: dict[str, Decimal] = field(default_factory=dict)
    trades: dict[str, int] = field(default_factory=dict)
    realized: dict[str, Decimal] = field(default_factory=dict)
    fills: dict[str, int] = field(default_factory=dict)
    fees: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    level_changes: list[dict[str, Any]] = field(default_factory=list)
    """namespace, policy, time, fromLevel, toLevel, drawdown, reason."""

    def only(self, namespace: str) -> DayRows:
        """The rows of one namespace's engines and policies."""
        prefix = f"{namespace}/"

        def mine(table: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in table.items() if k.startswith(prefix)}

        return DayRows(
            open_equity=mine(self.open_equity),
            close_equity=mine(self.close_equity),
            max_drawdown=mine(self.max_drawdown),
            close_drawdown=mine(self.close_drawdown),
            trades=mine(self.trades),
            realized=mine(self.realized),
            fills=mine(self.fills),
            fees=mine(self.fees),
            level_changes=[c for c in self.level_changes if c["namespace"] == namespace],
        )


def day_transfers(allocations: Iterable[Obj], day: date) -> dict[str, Decimal]:
    """Net money moved into each engine (`namespace/name`) on `day` by the Allocations' completed
    transfers: what day PnL must not count."""
    start, end = day_bounds(day)
    out: dict[str, Decimal] = {}
    for allocation in allocations:
        ns = str((allocation.get("metadata") or {}).get("namespace") or "")
        for t in (allocation.get("status") or {}).get("transfers") or []:
            at, amount = _time_of(t.get("time")), decimal(t.get("amount"))
            if t.get("state") != "Success" or at is None or amount is None:
                continue
            if not start <= at < end:
                continue
            for engine, sign in ((t.get("toEngine"), 1), (t.get("fromEngine"), -1)):
                if engine:
                    key = f"{ns}/{engine}"
                    out[key] = out.get(key, Decimal(0)) + sign * amount
    return out


def report_from_database(
    day: date,
    rows: DayRows,
    engines: Iterable[Obj],
    policies: Iterable[Obj],
    transfers: Mapping[str, Decimal] | None = None,
) -> dict[str, Any]:
    """Day `day` from the runtimes' and governance's records; the Engines and policies of the
    cluster name the engines and group them into portfolios (an engine deleted since is listed
    under its key alone). `transfers` (`day_transfers`) are netted out of day PnL."""
    transfers = transfers or {}
    keys = set(rows.open_equity) | set(rows.close_equity) | set(rows.trades) | set(rows.fills)
    for e in engines:
        meta = e.get("metadata") or {}
        keys.add(f"{meta.get('namespace', '')}/{meta.get('name', '')}")
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key in sorted(keys):
        ns, _, name = key.partition("/")
        opened, closed = rows.open_equity.get(key), rows.close_equity.get(key)
        moved = transfers.get(key, Decimal(0))
        out[(ns, name)] = {
            "namespace": ns,
            "name": name,
            "equityOpen": _text(opened),
            "equity": _text(closed),
            "transfers": _text(moved),
            "dayPnl": _text(closed - opened - moved)
            if opened is not None and closed is not None
            else None,
            "drawdown": _text(rows.close_drawdown.get(key), 4),
            "maxDrawdown": _text(rows.max_drawdown.get(key), 4),
            "level": None,
            "halted": None,
            "trades": rows.trades.get(key, 0),
            "fills": rows.fills.get(key, 0),
            "fees": {c: f"{v.normalize():f}" for c, v in sorted(rows.fees.get(key, {}).items())},
            "realizedPnl": _text(rows.realized.get(key, Decimal(0))),
        }
    portfolios = []
    for (ns, policy), names in sorted(_policy_engines(policies).items()):
        portfolio = _portfolio((ns, policy), names, out)
        changes = [c for c in rows.level_changes if c["namespace"] == ns and c["policy"] == policy]
        portfolio.update({
            "equityOpen": _sum_known(out.get((ns, n), {}).get("equityOpen") for n in names),
            "levelAtClose": changes[-1]["toLevel"] if changes else None,
            "levelChanges": changes,
        })  # fmt: skip
        portfolios.append(portfolio)
    return {
        "day": day.isoformat(),
        "source": "database",
        "engines": list(out.values()),
        "portfolios": portfolios,
        "missing": [
            "day PnL is the change of equity from the day's open to its close less the day's "
            "transfers the Allocations' status still lists: a transfer no longer listed there "
            "counts as PnL",
        ],
    }


def with_close_of_policies(
    report: dict[str, Any], policies: Iterable[Obj], taken_at: datetime
) -> dict[str, Any]:
    """The report with each portfolio's NAV per unit, high-water mark, drawdown, level and halt
    as its policy's status holds them at `taken_at` (the close, when the operator runs at 00:00
    UTC; later after a catch-up, which the note says)."""
    status_of = {
        (str((p.get("metadata") or {}).get("namespace") or ""),
         str((p.get("metadata") or {}).get("name") or "")): p.get("status") or {}
        for p in policies
    }  # fmt: skip
    for portfolio in report["portfolios"]:
        status = status_of.get((portfolio["namespace"], portfolio["policy"]), {})
        portfolio.update({
            "navPerUnit": status.get("navPerUnit"),
            "highWaterMark": status.get("highWaterMark"),
            "drawdown": status.get("drawdown"),
            "level": None if status.get("level") is None else int(status["level"]),
            "halted": bool(status.get("halted")),
            "closeAt": taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })  # fmt: skip
    close = datetime.combine(date.fromisoformat(report["day"]), time(0), tzinfo=UTC)
    late = taken_at - (close + timedelta(days=1))
    if late > LATE_CLOSE:
        report["missing"].append(
            f"the portfolios' NAV, drawdown and level were read {int(late.total_seconds() // 60)}"
            " min after the close (the operator was not running at 00:00 UTC)"
        )
    return report


LATE_CLOSE = timedelta(minutes=5)
"""A portfolio's figures read later than this after the close are noted as late."""


def _time_of(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _sum_known(values: Iterable[Any]) -> str | None:
    numbers = [decimal(v) for v in values]
    if not numbers or any(n is None for n in numbers):
        return None
    return _text(sum((n for n in numbers if n is not None), Decimal(0)))


# -- PostgreSQL -------------------------------------------------------------------------------

_OPEN = """
SELECT DISTINCT ON (engine) engine, equity FROM equity_snapshots
 WHERE ts <= $1 ORDER BY engine, ts DESC"""
_FIRST = """
SELECT DISTINCT ON (engine) engine, equity FROM equity_snapshots
 WHERE ts >= $1 AND ts < $2 ORDER BY engine, ts ASC"""
_CLOSE = """
SELECT DISTINCT ON (engine) engine, equity, drawdown FROM equity_snapshots
 WHERE ts >= $1 AND ts < $2 ORDER BY engine, ts DESC"""
_DRAWDOWN = """
SELECT engine, max(drawdown) AS dd FROM equity_snapshots
 WHERE ts >= $1 AND ts < $2 GROUP BY engine"""
_TRADES = """
SELECT engine, count(*) AS n, coalesce(sum(realized_pnl), 0) AS pnl FROM trades
 WHERE closed_at >= $1 AND closed_at < $2 GROUP BY engine"""
_FILLS = """
SELECT engine, fee_currency, count(*) AS n, coalesce(sum(fee), 0) AS fee FROM executions
 WHERE ts_event >= $1 AND ts_event < $2 GROUP BY engine, fee_currency"""
_CHANGES = """
SELECT namespace, policy, at, from_level, to_level, drawdown, reason FROM policy_changes
 WHERE at >= $1 AND at < $2 ORDER BY at"""


async def read_day(url: str, day: date) -> DayRows:
    """One day's figures from the database (the engines' in a namespace/name key)."""
    import asyncpg

    start, end = day_bounds(day)
    rows = DayRows()
    conn = await asyncpg.connect(url, timeout=10)
    try:
        for r in await conn.fetch(_OPEN, start):
            rows.open_equity[r["engine"]] = r["equity"]
        for r in await conn.fetch(_FIRST, start, end):
            rows.open_equity.setdefault(r["engine"], r["equity"])
        for r in await conn.fetch(_CLOSE, start, end):
            rows.close_equity[r["engine"]] = r["equity"]
            rows.close_drawdown[r["engine"]] = r["drawdown"]
        for r in await conn.fetch(_DRAWDOWN, start, end):
            rows.max_drawdown[r["engine"]] = r["dd"]
        for r in await conn.fetch(_TRADES, start, end):
            rows.trades[r["engine"]] = int(r["n"])
            rows.realized[r["engine"]] = r["pnl"]
        for r in await conn.fetch(_FILLS, start, end):
            rows.fills[r["engine"]] = rows.fills.get(r["engine"], 0) + int(r["n"])
            rows.fees.setdefault(r["engine"], {})[r["fee_currency"]] = r["fee"]
        exists = await conn.fetchval("SELECT to_regclass('policy_changes') IS NOT NULL")
        if exists:
            for r in await conn.fetch(_CHANGES, start, end):
                rows.level_changes.append({
                    "namespace": r["namespace"], "policy": r["policy"],
                    "time": r["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "fromLevel": r["from_level"], "toLevel": r["to_level"],
                    "drawdown": f"{r['drawdown']:f}", "reason": r["reason"],
                })  # fmt: skip
    finally:
        await conn.close()
    return rows


# -- the stored report (the operator's, at 00:00 UTC) ----------------------------------------


async def read_stored(url: str, day: date) -> dict[str, Any] | None:
    """The report the operator stored for `day`, or None (none stored, or no such table yet)."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        if not await conn.fetchval("SELECT to_regclass('daily_reports') IS NOT NULL"):
            return None
        text = await conn.fetchval("SELECT report::text FROM daily_reports WHERE day = $1", day)
    finally:
        await conn.close()
    return None if text is None else dict(json.loads(text))


def only_namespace(report: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A stored report (the whole fleet's) cut to one namespace's engines and portfolios."""
    return {
        **report,
        "engines": [e for e in report["engines"] if e["namespace"] == namespace],
        "portfolios": [p for p in report["portfolios"] if p["namespace"] == namespace],
    }
