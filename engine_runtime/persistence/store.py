"""PostgreSQL through asyncpg: the runtime's durable state.

An order row is written (status Created) before its request leaves the process, so after a
kill -9 the restart knows every orderLinkId it may have sent. A fill, its order's progress, its
position and any closed trade are written in one transaction keyed by the execution id, so a
fill is booked exactly once however often the stream and REST resync report it. Every write of
an order row carries its snapshot's version and applies only over an older one, so writes that
race on different connections leave the newest state, whichever lands last.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.portfolio.positions import ClosedTrade, Position
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, VenueOrderId
from eternal_kernel.model.reports import FillReport
from eternal_kernel.persistence.migrate import MIGRATIONS_DIR, apply_migrations

POOL_MAX = 2
COMPONENT = "runtime"


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass
class Checkpoint:
    directive: dict[str, Any] | None = None
    high_water_mark: Decimal | None = None
    day: date | None = None
    day_start_equity: Decimal | None = None
    week: date | None = None
    week_start_equity: Decimal | None = None
    last_fill_ms: int = 0
    emergency_stop: str | None = None


_ORDER_COLUMNS = (
    "client_order_id, venue_order_id, intent_id, symbol, category, side, order_type, qty, price, "
    "quote_qty, post_only, reduce_only, status, filled_qty, avg_price, reason, reject_reason, "
    "created_at, version"
)
_BOOKED_QTY = (
    "COALESCE((SELECT sum(e.qty) FROM executions e WHERE e.engine = orders.engine "
    "AND e.client_order_id = orders.client_order_id), 0) AS booked_qty"
)
_INSERT_ORDER = (
    f"INSERT INTO orders (engine, {_ORDER_COLUMNS}) VALUES "  # noqa: S608 - constants
    "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) "
    "ON CONFLICT DO NOTHING RETURNING 1"
)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release without asyncpg's default RESET ALL round trip: the runtime sets no session
    state (the migration lock is released explicitly), and the trip cost every order a write."""


class Store:
    def __init__(self, pool: asyncpg.Pool, engine: str, orders: asyncpg.Connection) -> None:
        self.pool = pool
        self.engine = engine
        self._orders = orders  # the hot path's own connection: no pool hand-over per order
        self._orders_lock = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str, engine: str) -> Store:
        # At most POOL_MAX + 1 connections per runtime (the orders connection): a fleet of N
        # engines needs N * (POOL_MAX + 1) of the server's max_connections.
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=POOL_MAX, command_timeout=10, reset=_keep_session
        )
        await apply_migrations(pool, COMPONENT, MIGRATIONS_DIR)
        orders = await asyncpg.connect(url, command_timeout=10)
        return cls(pool, engine, orders)

    async def close(self) -> None:
        await self._orders.close()
        await self.pool.close()

    # orders -----------------------------------------------------------------------------
    async def insert_order(self, o: ManagedOrder) -> bool:
        """Record an order before it is sent; False if this orderLinkId is already known."""
        async with self._orders_lock:
            row = await self._orders.fetchval(_INSERT_ORDER, self.engine, *self._order_values(o))
        return row is not None

    async def update_order(self, o: ManagedOrder, conn: Any = None) -> None:
        """Write the order's state as it is now; a no-op when a newer snapshot is already in.

        The snapshot (values and version) is taken before the first await, so the order of the
        calls is the order of the versions, whatever connection each write then gets."""
        await (conn or self.pool).execute(
            "UPDATE orders SET venue_order_id=$3, status=$4, filled_qty=$5, avg_price=$6, "
            "qty=$7, price=$8, reject_reason=$9, version=$10, updated_at=now() "
            "WHERE engine=$1 AND client_order_id=$2 AND version < $10",
            self.engine,
            o.client_order_id,
            o.venue_order_id,
            o.status.value,
            o.filled_qty,
            o.avg_price,
            o.qty,
            o.price,
            o.reject_reason,
            o.snapshot_version(),
        )

    async def order_version(self, client_order_id: str) -> int:
        """The version of the order's row (0 when there is none)."""
        version = await self.pool.fetchval(
            "SELECT version FROM orders WHERE engine=$1 AND client_order_id=$2",
            self.engine,
            client_order_id,
        )
        return int(version or 0)

    @staticmethod
    def _order_values(o: ManagedOrder) -> tuple[Any, ...]:
        return (
            o.client_order_id,
            o.venue_order_id,
            o.intent_id,
            o.symbol,
            o.category.value,
            o.side.value,
            o.order_type.value,
            o.qty,
            o.price,
            o.quote_qty,
            o.post_only,
            o.reduce_only,
            o.status.value,
            o.filled_qty,
            o.avg_price,
            o.reason,
            o.reject_reason,
            _ts(o.created_ms),
            o.version,
        )

    async def load_orders(self, open_only: bool = True) -> list[ManagedOrder]:
        where = "AND status IN ('Created','Submitted','Acknowledged','PartiallyFilled')"
        rows = await self.pool.fetch(
            f"SELECT {_ORDER_COLUMNS}, {_BOOKED_QTY} FROM orders WHERE engine=$1 "  # noqa: S608
            f"{where if open_only else ''} ORDER BY created_at",
            self.engine,
        )
        return [self._order(r) for r in rows]

    async def order_exists(self, client_order_id: str) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT 1 FROM orders WHERE engine=$1 AND client_order_id=$2",
                self.engine,
                client_order_id,
            )
        )

    async def count_orders(self, client_order_id: str) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT count(*) FROM orders WHERE engine=$1 AND client_order_id=$2",
                self.engine,
                client_order_id,
            )
        )

    @staticmethod
    def _order(r: asyncpg.Record) -> ManagedOrder:
        return ManagedOrder(
            client_order_id=ClientOrderId(r["client_order_id"]),
            venue_order_id=VenueOrderId(r["venue_order_id"]) if r["venue_order_id"] else None,
            intent_id=r["intent_id"],
            symbol=r["symbol"],
            category=Category(r["category"]),
            side=OrderSide(r["side"]),
            order_type=OrderType(r["order_type"]),
            qty=r["qty"],
            price=r["price"],
            quote_qty=r["quote_qty"],
            post_only=r["post_only"],
            reduce_only=r["reduce_only"],
            status=OrderStatus(r["status"]),
            filled_qty=r["filled_qty"],
            avg_price=r["avg_price"],
            reason=r["reason"],
            reject_reason=r["reject_reason"],
            created_ms=int(r["created_at"].timestamp() * 1000),
            booked_qty=r["booked_qty"],
            version=r["version"],
        )

    # fills ------------------------------------------------------------------------------
    async def book_fill(
        self,
        fill: FillReport,
        order: ManagedOrder | None,
        position: Position,
        closed: ClosedTrade | None,
    ) -> bool:
        """Record the execution with its consequences; False (nothing written) if known."""
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO executions (engine, trade_id, client_order_id, venue_order_id, "
                "symbol, category, side, qty, price, fee, fee_currency, is_maker, ts_event) "
                "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                self.engine,
                fill.trade_id,
                fill.client_order_id,
                fill.venue_order_id,
                fill.symbol,
                fill.category.value,
                fill.side.value,
                fill.qty,
                fill.price,
                fill.fee,
                fill.fee_currency,
                fill.is_maker,
                _ts(fill.ts_event_ms),
            )
            if inserted is None:
                return False
            if order is not None:
                await self.update_order(order, conn)
            await self.save_position(position, conn)
            if closed is not None:
                await conn.execute(
                    "INSERT INTO trades (engine, trade_id, symbol, category, side, qty, "
                    "entry_price, exit_price, realized_pnl, fee, closed_at) "
                    "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING",
                    self.engine,
                    fill.trade_id,
                    fill.symbol,
                    fill.category.value,
                    closed.side.value,
                    closed.qty,
                    closed.entry_price,
                    closed.exit_price,
                    closed.realized_pnl,
                    fill.fee,
                    _ts(fill.ts_event_ms),
                )
            await conn.execute(
                "INSERT INTO engine_checkpoints (engine, last_fill_ms) VALUES ($1, $2) "
                "ON CONFLICT (engine) DO UPDATE SET last_fill_ms = "
                "GREATEST(engine_checkpoints.last_fill_ms, EXCLUDED.last_fill_ms)",
                self.engine,
                fill.ts_event_ms,
            )
            return True

    async def known_trade_ids(self, since_ms: int) -> set[str]:
        rows = await self.pool.fetch(
            "SELECT trade_id FROM executions WHERE engine=$1 AND ts_event >= $2",
            self.engine,
            _ts(since_ms),
        )
        return {r["trade_id"] for r in rows}

    async def count_executions(self) -> int:
        return int(
            await self.pool.fetchval("SELECT count(*) FROM executions WHERE engine=$1", self.engine)
        )

    # positions --------------------------------------------------------------------------
    async def save_position(self, p: Position, conn: Any = None) -> None:
        await (conn or self.pool).execute(
            "INSERT INTO positions (engine, symbol, category, qty, avg_entry_price, realized_pnl, "
            "fees, opened_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8, now()) "
            "ON CONFLICT (engine, symbol, category) DO UPDATE SET qty=$4, avg_entry_price=$5, "
            "realized_pnl=$6, fees=$7, opened_at=$8, updated_at=now()",
            self.engine,
            p.symbol,
            p.category.value,
            p.qty,
            p.avg_entry_price,
            p.realized_pnl,
            p.fees,
            _ts(p.opened_ms) if p.opened_ms else None,
        )

    async def load_positions(self) -> list[Position]:
        rows = await self.pool.fetch("SELECT * FROM positions WHERE engine=$1", self.engine)
        return [
            Position(
                symbol=r["symbol"],
                category=Category(r["category"]),
                qty=r["qty"],
                avg_entry_price=r["avg_entry_price"],
                realized_pnl=r["realized_pnl"],
                fees=r["fees"],
                opened_ms=int(r["opened_at"].timestamp() * 1000) if r["opened_at"] else None,
            )
            for r in rows
        ]

    # checkpoint, equity, events -----------------------------------------------------------
    async def load_checkpoint(self) -> Checkpoint:
        r = await self.pool.fetchrow(
            "SELECT * FROM engine_checkpoints WHERE engine=$1", self.engine
        )
        if r is None:
            return Checkpoint()
        return Checkpoint(
            directive=json.loads(r["directive"]) if r["directive"] else None,
            high_water_mark=r["high_water_mark"],
            day=r["day"],
            day_start_equity=r["day_start_equity"],
            week=r["week"],
            week_start_equity=r["week_start_equity"],
            last_fill_ms=r["last_fill_ms"],
            emergency_stop=r["emergency_stop"],
        )

    async def save_checkpoint(self, c: Checkpoint) -> None:
        await self.pool.execute(
            "INSERT INTO engine_checkpoints (engine, directive, high_water_mark, day, "
            "day_start_equity, week, week_start_equity, emergency_stop, updated_at) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8, now()) ON CONFLICT (engine) DO UPDATE SET "
            "directive=$2, high_water_mark=$3, day=$4, day_start_equity=$5, week=$6, "
            "week_start_equity=$7, emergency_stop=$8, updated_at=now()",
            self.engine,
            json.dumps(c.directive) if c.directive is not None else None,
            c.high_water_mark,
            c.day,
            c.day_start_equity,
            c.week,
            c.week_start_equity,
            c.emergency_stop,
        )

    async def save_strategy(self, name: str, api: int, state: bytes) -> None:
        await self.pool.execute(
            "INSERT INTO engine_checkpoints (engine, strategy_name, strategy_api, strategy_state, "
            "strategy_saved_at) VALUES ($1,$2,$3,$4, now()) ON CONFLICT (engine) DO UPDATE SET "
            "strategy_name=$2, strategy_api=$3, strategy_state=$4, strategy_saved_at=now()",
            self.engine,
            name,
            api,
            state,
        )

    async def load_strategy(self) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            "SELECT strategy_name, strategy_api, strategy_state FROM engine_checkpoints "
            "WHERE engine=$1",
            self.engine,
        )
        if row is None:
            return None
        return {
            "name": row["strategy_name"],
            "api": row["strategy_api"],
            "state": row["strategy_state"],
        }

    async def equity_snapshot(
        self, ts_ms: int, equity: Decimal, cash: Decimal, unrealized: Decimal, drawdown: Decimal
    ) -> None:
        await self.pool.execute(
            "INSERT INTO equity_snapshots (engine, ts, equity, cash, unrealized_pnl, drawdown) "
            "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
            self.engine,
            _ts(ts_ms),
            equity,
            cash,
            unrealized,
            drawdown,
        )

    async def governance_event(
        self, kind: str, sequence: int | None, detail: dict[str, Any]
    ) -> None:
        await self.pool.execute(
            "INSERT INTO governance_events (engine, sequence, kind, detail) VALUES ($1,$2,$3,$4)",
            self.engine,
            sequence,
            kind,
            json.dumps(detail, default=str),
        )

    async def discrepancy(
        self, kind: str, subject: str, ours: str | None, venue: str | None, resolution: str
    ) -> None:
        await self.pool.execute(
            "INSERT INTO discrepancies (engine, kind, subject, ours, venue, resolution) "
            "VALUES ($1,$2,$3,$4,$5,$6)",
            self.engine,
            kind,
            subject,
            ours,
            venue,
            resolution,
        )

    async def risk_refusal(self, intent_id: str, symbol: str, check: str, reason: str) -> None:
        await self.pool.execute(
            "INSERT INTO risk_refusals (engine, intent_id, symbol, check_name, reason) "
            "VALUES ($1,$2,$3,$4,$5)",
            self.engine,
            intent_id,
            symbol,
            check,
            reason,
        )

    async def grid_recentre(
        self,
        symbol: str,
        reason: str,
        centre: Decimal,
        spacing: Decimal,
        lowest_buy: Decimal,
        highest_sell: Decimal,
        levels: int,
        generation: int,
        at_ms: int,
    ) -> None:
        await self.pool.execute(
            "INSERT INTO grid_recentres (engine, symbol, reason, centre, spacing, lowest_buy, "
            "highest_sell, levels, generation, at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            self.engine,
            symbol,
            reason,
            centre,
            spacing,
            lowest_buy,
            highest_sell,
            levels,
            generation,
            _ts(at_ms),
        )
