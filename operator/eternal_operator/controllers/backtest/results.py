"""A Backtest's shard rows in PostgreSQL (`backtest_results`, written by
`engine_runtime.backtest.shard`), read and ranked by plain functions into what its status says.

Ranking is the sweep's: the stored score is `Row.score` of the metric (higher is better, a
drawdown negated, none for a combination that failed or has no value), ties in grid order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eternal_kernel.persistence.backtest_results import ShardRow, read_plots, read_rows

__all__ = ["ShardRow", "Summary", "rank", "ranked_csv", "read_plots", "read_rows", "summarise"]

CSV_STATS = ("total_return", "final_equity", "max_drawdown", "sharpe", "sortino", "trades",
             "win_rate", "fees", "rejected_orders")  # fmt: skip


def rank(rows: Sequence[ShardRow]) -> list[ShardRow]:
    """Best first: the score descending, combinations without one last, ties in grid order."""
    return sorted(rows, key=lambda r: (r.score is None, -(r.score or 0.0), r.position))


@dataclass
class Summary:
    completed_shards: set[int] = field(default_factory=set)
    best_score: str | None = None
    best_params: dict[str, str] = field(default_factory=dict)
    top: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0


def _text(value: Any) -> str:
    return str(value)[:64]


def summarise(rows: Sequence[ShardRow], metric: str, top: int) -> Summary:
    """What the status shows of the rows so far: the shards that wrote theirs, the best
    combination and its metric (the statistic itself, as the backtester printed it), the top
    `top` ranked, and how many combinations failed."""
    ranked = rank(rows)
    out = Summary(completed_shards={r.shard for r in rows},
                  failed=sum(1 for r in rows if r.error))  # fmt: skip
    scored = [r for r in ranked if r.score is not None]
    if scored:
        best = scored[0]
        out.best_score = _text(best.stats.get(metric))
        out.best_params = {k: _text(v) for k, v in best.params.items()}
    for place, row in enumerate(scored[:top], 1):
        entry: dict[str, Any] = {
            "rank": place, "params": {k: _text(v) for k, v in row.params.items()},
            "score": _text(row.stats.get(metric)),
            "totalReturn": _text(row.stats.get("total_return")),
            "finalEquity": None if row.final_equity is None else _text(row.final_equity),
            "trades": row.stats.get("trades"),
        }  # fmt: skip
        out.top.append({k: v for k, v in entry.items() if v is not None})
    return out


REPORT_BUDGET = 900_000
"""Bytes of ranked.csv at most: a ConfigMap holds 1 MiB, data and metadata together."""


def ranked_csv(
    rows: Sequence[ShardRow], metric: str, budget: int = REPORT_BUDGET
) -> tuple[str, int]:
    """The combinations, ranked: rank, parameters, the metric, the usual statistics and the
    error of those that failed (the sweep CLI's sweep.csv, in short), best first, as many as fit
    in `budget` bytes; and how many that is."""
    names: list[str] = []
    for row in rows:
        names += [n for n in row.params if n not in names]
    stats = [metric, *(s for s in CSV_STATS if s != metric)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", *names, *stats, "shard", "error"])
    written, size = 0, len(buffer.getvalue().encode())
    for place, row in enumerate(rank(rows), 1):
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(
            [place, *(row.params.get(n, "") for n in names),
             *(_cell(row.stats.get(s)) for s in stats), row.shard, row.error or ""]
        )  # fmt: skip
        size += len(line.getvalue().encode())
        if size > budget:
            break
        buffer.write(line.getvalue())
        written += 1
    return buffer.getvalue(), written


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
