"""A Backtest's shard rows in real PostgreSQL: written by the shard entry point, read back
ranked by the operator, and a retried shard index overwrites its own rows only."""

from __future__ import annotations

import asyncio
import json
import secrets
from decimal import Decimal as D
from pathlib import Path

import pytest

from engine_runtime.backtest import shard
from eternal_kernel.persistence.backtest_results import (
    ResultRow,
    read_plots,
    read_rows,
    write_rows,
)  # fmt: skip

pytestmark = pytest.mark.integration


def row(position: int, fast: int, score: float | None, equity: str) -> ResultRow:
    stats = {"sharpe": None if score is None else str(score), "final_equity": equity}
    return ResultRow(position, {"fast": fast}, score, D(equity), D("1.25"), stats,
                     None if score is not None else "ValueError: no")  # fmt: skip


async def test_a_retried_shard_overwrites_its_own_rows(postgres: str) -> None:
    uid = secrets.token_hex(6)
    assert await read_rows(postgres, uid) == []
    await write_rows(
        postgres,
        uid,
        "lab",
        "bt",
        0,
        "sharpe",
        [row(0, 5, 0.5, "10100.123456789012345678"), row(1, 10, None, "9000")],
    )
    await write_rows(postgres, uid, "lab", "bt", 1, "sharpe", [row(2, 15, 1.5, "10500")])
    found = await read_rows(postgres, uid)
    assert [(r.shard, r.position) for r in found] == [(1, 2), (0, 0), (0, 1)]  # ranked
    assert found[1].final_equity == D("10100.123456789012345678")  # NUMERIC keeps every digit
    assert found[2].error == "ValueError: no"
    assert found[2].score is None
    # shard 0 again (a retried index): its rows are replaced, shard 1's untouched
    await write_rows(postgres, uid, "lab", "bt", 0, "sharpe", [row(0, 5, 2.5, "11000")])
    again = await read_rows(postgres, uid)
    assert [(r.shard, r.position, r.score) for r in again] == [(0, 0, 2.5), (1, 2, 1.5)]
    assert await read_rows(postgres, secrets.token_hex(6)) == []  # keyed by the Backtest


def test_the_entry_point_runs_its_slice_and_the_last_shard_draws_the_heatmap(
    postgres: str, tmp_path: Path
) -> None:
    closes = [100 + (i % 40) - 20 * ((i // 200) % 2) for i in range(600)]
    lines = ["timestamp,open,high,low,close,volume"]
    for i, close in enumerate(closes):
        lines.append(f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00,{close},{close + 1},"
                     f"{close - 1},{close},10")  # fmt: skip
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    spec = {"strategy": "sma-cross", "symbols": ["BTCUSDT"], "shards": 2,
            "data": {"configMap": {"name": "c", "files": [{"symbol": "BTCUSDT", "key": "b.csv"}]}},
            "grid": [{"name": "fast", "values": ["3", "5", "8"]},
                     {"name": "slow", "values": ["20", "30"]}]}  # fmt: skip
    uid = secrets.token_hex(6)
    env = {"EE_BACKTEST_SPEC": json.dumps(spec), "EE_BACKTEST_UID": uid, "EE_BACKTEST_NAME": "bt",
           "EE_POD_NAMESPACE": "lab", "EE_DATABASE_URL": postgres, "EE_CANDLES_DIR": str(tmp_path),
           "JOB_COMPLETION_INDEX": "1"}  # fmt: skip
    assert shard.main(env) == 0
    found = asyncio.run(read_rows(postgres, uid))  # the entry point runs its own loop
    assert sorted((r.shard, r.position) for r in found) == [(1, 3), (1, 4), (1, 5)]
    assert asyncio.run(read_plots(postgres, uid)) == {}  # shard 0 has not written yet
    assert shard.main({**env, "JOB_COMPLETION_INDEX": "0"}) == 0
    assert len(asyncio.run(read_rows(postgres, uid))) == 6
    plots = asyncio.run(read_plots(postgres, uid))
    assert list(plots) == ["heatmap.png"]
    assert plots["heatmap.png"][:4] == b"\x89PNG"
    assert shard.main({**env, "EE_DATABASE_URL": ""}) == 1  # says it has nowhere to write
