"""A strategy driven by a commands file, for the runtime's integration tests and benchmark.

`params.commandsFile` holds one JSON command per line; on every bar the strategy emits an intent
for each command it has not emitted yet in this process (a restarted runtime re-emits them all,
with the same deterministic intent ids: that is what the runtime must deduplicate). Commands:

    {"op": "submit", "id": "a", "side": "Buy", "type": "Limit", "qty": "0.01", "offset": "-0.02"}
    {"op": "amend", "id": "a2", "target": "a", "offset": "-0.03"}
    {"op": "cancel", "id": "c", "target": "a"}

`offset` is a fraction of the last close (limit price = close * (1 + offset)); `params.everyBar`
(a command template) makes it emit one fresh submit per bar instead (the benchmark).
`params.eventsFile`, when set, gets one JSON line per order event the strategy hears: the
command's id, the status and filled quantity, and the position the strategy sees at that moment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    CancelOrder,
    Category,
    Intent,
    MarketKey,
    OrderEvent,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
    intent_id,
)
from eternal_kernel.model.commands import AmendOrder


@dataclass
class ScriptedStrategy(BaseStrategy):
    symbol: str = "BTCUSDT"
    category: Category = Category.LINEAR
    commands_file: Path | None = None
    every_bar: dict[str, Any] | None = None
    events_file: Path | None = None
    done: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)  # intent id -> command id
    bars: int = 0

    name = "scripted"

    def markets(self) -> Sequence[MarketKey]:
        return [(self.symbol, self.category)]

    def warmup_bars(self) -> int:
        return 2

    def commands(self) -> list[dict[str, Any]]:
        if self.commands_file is None or not self.commands_file.exists():
            return []
        lines = self.commands_file.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        self.bars += 1
        out: list[Any] = []
        if self.every_bar is not None:
            out.append(self._intent(ctx, {**self.every_bar, "id": f"bar{ctx.market.now_ms}"}))
        for command in self.commands():
            if command["id"] in self.done:
                continue
            self.done.add(command["id"])
            out.append(self._intent(ctx, command))
        return out

    def _iid(self, ctx: StrategyContext, name: str) -> str:
        iid = intent_id(ctx.engine, 0, "scripted", name)
        self.names[iid] = name
        return iid

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        if self.events_file is not None:
            position = ctx.portfolio.position(event.symbol)
            line = {
                "id": self.names.get(event.intent_id, event.intent_id),
                "status": event.status.value,
                "filled": str(event.filled_qty),
                "position": str(position.qty if position is not None else 0),
            }
            with self.events_file.open("a") as out:
                out.write(json.dumps(line) + "\n")
        return ()

    def _price(self, ctx: StrategyContext, command: dict[str, Any]) -> Decimal | None:
        if "price" in command:
            return Decimal(command["price"])
        if "offset" in command:
            close = ctx.market.price(self.symbol, self.category)
            return close * (1 + Decimal(command["offset"]))
        return None

    def _intent(self, ctx: StrategyContext, command: dict[str, Any]) -> Any:
        op = command.get("op", "submit")
        if op == "cancel":
            return CancelOrder(
                self._iid(ctx, command["id"]),
                self.symbol,
                self.category,
                self._iid(ctx, command["target"]),
            )
        if op == "amend":
            return AmendOrder(
                self._iid(ctx, command["id"]),
                self.symbol,
                self.category.value,
                self._iid(ctx, command["target"]),
                qty=Decimal(command["qty"]) if "qty" in command else None,
                price=self._price(ctx, command),
            )
        order_type = OrderType(command.get("type", "Market"))
        return SubmitOrder(
            self._iid(ctx, command["id"]),
            self.symbol,
            self.category,
            Side(command.get("side", "Buy")),
            order_type,
            qty=Decimal(command["qty"]),
            price=self._price(ctx, command) if order_type is OrderType.LIMIT else None,
            reduce_only=bool(command.get("reduceOnly", False)),
            reason="scripted",
        )


def create(config: Any) -> ScriptedStrategy:
    params = config.params
    path = params.get("commandsFile")
    return ScriptedStrategy(
        symbol=config.symbols[0],
        category=Category(params.get("category", "linear")),
        commands_file=Path(path) if path else None,
        every_bar=params.get("everyBar"),
        events_file=Path(params["eventsFile"]) if params.get("eventsFile") else None,
    )
