"""JSON and PNG reports, and the command line."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from engine_runtime.backtest import demo_market, run_backtest
from engine_runtime.backtest.cli import main
from engine_runtime.backtest.report import plot, to_dict, write_json
from engine_runtime.strategies import Category, SmaCrossStrategy, create_strategy

pytestmark = pytest.mark.unit


def test_json_and_png(tmp_path: Path) -> None:
    result = run_backtest(
        create_strategy("trend"), demo_market("1D", start="2018-01-01", end="2021-01-01")
    )
    path = write_json(result, tmp_path / "r.json")
    doc = json.loads(path.read_text())
    assert doc["stats"]["final_equity"] == str(result.stats.final_equity)
    engine = doc["engines"]["backtest"]
    assert engine["fillsTotal"] == len(result.fills)
    assert len(engine["fills"]) == len(result.fills)
    assert (
        doc["equity"][-1][1] == f"{round(result.equity[-1], 2)}".rstrip("0").rstrip(".")
        or doc["equity"][-1][1]
    )
    assert float(doc["equity"][-1][1]) == pytest.approx(result.equity[-1], abs=0.01)
    assert doc["period"]["bars"] == len(result.index)
    png = plot(result, tmp_path / "e.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert to_dict(result, fills_limit=3)["engines"]["backtest"]["fills"] == engine["fills"][-3:]


def test_cli_run_and_portfolio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "trend.yaml"
    params.write_text("smaFast: 10\nsmaSlow: 30\n")
    assert (
        main(
            [
                "run",
                "--strategy",
                "trend",
                "--params",
                str(params),
                "--interval",
                "1D",
                "--start",
                "2020-01-01",
                "--end",
                "2021-01-01",
                "--out",
                str(tmp_path / "t"),
            ]
        )
        == 0
    )
    assert (tmp_path / "t" / "result.json").exists()
    assert (tmp_path / "t" / "equity.png").exists()
    printed = json.loads(capsys.readouterr().out)
    assert "sharpe" in printed["stats"]
    assert (
        main(
            [
                "portfolio",
                "--interval",
                "1D",
                "--start",
                "2020-01-01",
                "--end",
                "2020-07-01",
                "--no-plot",
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == 0
    )
    doc = json.loads((tmp_path / "p" / "result.json").read_text())
    assert set(doc["engines"]) == {"core-hodl", "trend", "funding", "tactical"}
    assert doc["config"]["governance"] is True


def test_cli_data_writes_consistent_candles(tmp_path: Path) -> None:
    out = tmp_path / "btc.csv"
    assert (
        main(
            [
                "data",
                "--interval",
                "1D",
                "--start",
                "2023-01-01",
                "--end",
                "2023-03-01",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text().splitlines()
    assert len(text) == 1 + 59


def test_cli_runs_on_candles_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "btc.csv"
    assert (
        main(
            [
                "data",
                "--interval",
                "1h",
                "--start",
                "2023-01-01",
                "--end",
                "2023-02-01",
                "--out",
                str(csv),
            ]
        )
        == 0
    )
    capsys.readouterr()
    args = ["run", "--strategy", "sma-cross", "--qty", "0.01", "--candles", f"BTCUSDT:linear={csv}"]
    assert main([*args, "--no-plot", "--out", str(tmp_path / "o")]) == 0
    doc = json.loads((tmp_path / "o" / "result.json").read_text())
    assert doc["period"]["bars"] == 31 * 24
    assert doc["engines"]["backtest"]["fillsTotal"] > 10
    assert {f["category"] for f in doc["engines"]["backtest"]["fills"]} == {"linear"}


def test_cli_runs_sma_cross_on_a_stock_csv_with_no_symbols_and_a_commission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new user's first try: backtesting.py's GOOG daily candles, no --symbols, 0.2%."""
    from backtesting.test import GOOG

    csv = tmp_path / "GOOG.csv"
    GOOG.to_csv(csv)
    out = tmp_path / "o"
    args = ["run", "--strategy", "sma-cross", "--candles", f"GOOG={csv}", "--fee", "0.002"]
    assert main([*args, "--qty", "10", "--slippage-bps", "0", "--no-plot", "--out", str(out)]) == 0
    fills = json.loads((out / "result.json").read_text())["engines"]["backtest"]["fills"]
    assert len(fills) > 20
    assert {(f["symbol"], f["category"]) for f in fills} == {("GOOG", "spot")}
    for f in fills:
        notional = float(f["qty"]) * float(f["price"])
        assert float(f["fee"]) == pytest.approx(notional * 0.002, rel=1e-6)


def test_cli_says_which_markets_the_data_lacks_instead_of_a_traceback(tmp_path: Path) -> None:
    from backtesting.test import GOOG

    csv = tmp_path / "GOOG.csv"
    GOOG.to_csv(csv)
    with pytest.raises(SystemExit, match=r"trend trades BTCUSDT:linear.*only GOOG:spot"):
        main(["run", "--strategy", "trend", "--candles", f"GOOG={csv}", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="no candles for ETHUSDT; the data has GOOG:spot"):
        main(["run", "--strategy", "sma-cross", "--symbols", "ETHUSDT", "--candles", f"GOOG={csv}"])


def test_maker_and_taker_fees_win_over_fee() -> None:
    from engine_runtime.backtest.cli import _fees, build_parser

    args = build_parser().parse_args(["run", "--strategy", "trend", "--fee", "0.003"])
    fees = _fees(args)
    assert (fees.spot_maker, fees.spot_taker, fees.linear_maker) == (0.003, 0.003, 0.003)
    args = build_parser().parse_args(
        ["run", "--strategy", "trend", "--fee", "0.003", "--maker-fee", "0.0001"]
    )
    fees = _fees(args)
    assert (fees.linear_maker, fees.linear_taker) == (0.0001, 0.003)


def test_the_trade_list_has_prices_and_returns_and_the_public_api_is_whole(
    tmp_path: Path,
) -> None:
    from backtesting.test import GOOG

    from engine_runtime import backtest

    csv = tmp_path / "GOOG.csv"
    GOOG.to_csv(csv)
    frame = backtest.load_candles(str(csv))
    data = backtest.MarketData({("GOOG", Category.LINEAR): frame})
    strategy = SmaCrossStrategy(symbol="GOOG", qty=D(1), category=Category.LINEAR)
    result = backtest.run_backtest(strategy, data, initial_cash=D(10_000))
    doc = json.loads(backtest.write_json(result, tmp_path / "r.json").read_text())
    engine = doc["engines"]["backtest"]
    first, second = result.fills[0], result.fills[1]  # the first trade's entry and exit
    trade = engine["trades"][0]
    assert float(trade["entryPrice"]) == pytest.approx(first.price)
    assert float(trade["exitPrice"]) == pytest.approx(second.price)
    gross = (second.price - first.price) * (1 if first.side.value == "Buy" else -1)
    net = gross - first.fee - second.fee / 2  # the flip's fill closes one and opens the next
    assert float(trade["returnPct"]) == pytest.approx(net / first.price * 100, abs=1e-3)
    assert float(trade["pnl"]) == pytest.approx(net, abs=0.01)
    assert backtest.plot(result, tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_the_docs_custom_strategy_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example a new user copies: all in on GOOG from the reported cash, every order fills
    (46 round trips; 2 when the reported cash could round up past the real one)."""
    import runpy

    from backtesting.test import GOOG

    doc = (Path(__file__).parents[3] / "docs" / "strategies-and-backtesting.md").read_text()
    section = doc.split("### Your own strategy on your own CSV", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    GOOG.to_csv(tmp_path / "GOOG.csv")
    (tmp_path / "example.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    scope = runpy.run_path(str(tmp_path / "example.py"))
    (engine,) = scope["result"].engines.values()
    assert not engine.rejections
    assert scope["result"].stats.trades == 46
    assert (tmp_path / "out" / "equity.png").exists()
