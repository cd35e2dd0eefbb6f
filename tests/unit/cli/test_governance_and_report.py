"""`kubectl eternal reset`'s reading of the operator's answer, and the daily report's figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from eternal_operator.cli import governance
from eternal_operator.cli.governance import Answer, reset_answer, reset_patch
from eternal_operator.cli.render import Style
from eternal_operator.cli.report import (
    DayRows,
    render_report,
    report_from_database,
    report_from_status,
)
from eternal_operator.controllers.policy import governor

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
TOKEN = "20261203T120000Z-abc123"
LEVELS = [
    {"level": 1, "drawdown": 0.1, "sizeMultiplier": 0.75},
    {"level": 4, "drawdown": 0.25, "sizeMultiplier": 0, "halt": True},
]


def policy(spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1",
        "kind": "CircuitBreakerPolicy",
        "metadata": {"name": "eternal", "namespace": "fleet", "uid": "u1"},
        "spec": {"levels": LEVELS, **(spec or {})},
        "status": {"halted": True, "level": 4, "drawdown": "0.3", **status},
    }


def event(message: str, at: str) -> dict[str, Any]:
    return {"metadata": {"uid": at}, "reason": "ResetRefused", "type": "Warning",
            "message": message, "lastTimestamp": at}  # fmt: skip


def test_the_annotations_are_the_operators() -> None:
    assert governance.RESET_ANNOTATION == governor.RESET_ANNOTATION
    assert governance.RESET_FORCE_ANNOTATION == governor.RESET_FORCE_ANNOTATION


def test_an_unforced_reset_removes_a_leftover_force() -> None:
    assert reset_patch(TOKEN, force=False) == {"metadata": {"annotations": {
        "trading.eternal-engine.io/reset": TOKEN, "trading.eternal-engine.io/reset-force": None,
    }}}  # fmt: skip
    forced = reset_patch(TOKEN, force=True)["metadata"]["annotations"]
    assert forced["trading.eternal-engine.io/reset-force"] == "true"


def test_reset_tokens_are_fresh() -> None:
    tokens = {governance.new_reset_token(NOW) for _ in range(20)}
    assert len(tokens) == 20
    assert all(t.startswith("20261203T120000Z-") for t in tokens)


def test_no_answer_until_the_operator_records_the_token() -> None:
    assert reset_answer(policy(resetToken="older"), TOKEN, []) is None


def test_a_refusal_is_read_from_the_newest_event() -> None:
    events = [
        event("spec.emergencyHalt is still true: set it to false first", "2026-12-03T11:59:00Z"),
        event("drawdown 0.3000 is still at or beyond the halting level 0.25; annotate "
              "trading.eternal-engine.io/reset-force=true to reset anyway", "2026-12-03T12:00:01Z"),
    ]  # fmt: skip
    answer = reset_answer(policy(refusedResetToken=TOKEN), TOKEN, events)
    assert answer == Answer("refused", events[1]["message"])


def test_a_refusal_seen_before_its_event_says_what_the_operator_checks() -> None:
    answer = reset_answer(policy({"emergencyHalt": True}, refusedResetToken=TOKEN), TOKEN, [])
    assert answer is not None
    assert answer.outcome == "refused"
    assert answer.final is False
    assert "spec.emergencyHalt is still true" in answer.message
    deep = reset_answer(policy(refusedResetToken=TOKEN), TOKEN, [])
    assert deep is not None
    assert "drawdown 30.00% is still at or beyond the halting level 25.00%" in deep.message
    assert "--force" in deep.message


def test_a_lift_shows_the_new_state() -> None:
    lifted = policy(halted=False, level=0, drawdown="0", resetToken=TOKEN,
                    directive={"sequence": 12, "level": 0, "sizeMultiplier": 1})  # fmt: skip
    answer = reset_answer(lifted, TOKEN, [])
    assert answer is not None
    assert answer.outcome == "lifted"
    assert answer.message == "not halted, level 0, drawdown 0.00%, directive 12 (normal)"


def engine(name: str, equity: str, day_pnl: str, level: int = 0) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "fleet"},
        "spec": {"strategy": "trend"},
        "status": {
            "runtime": {"equity": equity, "dayPnl": day_pnl, "drawdown": "0.02"},
            "governance": {"level": level, "sequence": 3},
        },
    }


def test_todays_report_from_status_sums_a_portfolio_and_names_what_is_missing() -> None:
    engines = [engine("a", "600", "-10.5", 1), engine("b", "400", "4.25", 1), engine("x", "1", "0")]
    pol = policy(halted=False, level=1, drawdown="0.11", equity="1000", navPerUnit="0.89",
                 dayOpenNav="0.9", engines=["a", "b"],
                 history=[{"time": "2026-12-03T09:00:00Z", "fromLevel": 0, "toLevel": 1,
                           "drawdown": "0.11", "reason": "drawdown 0.11"},
                          {"time": "2026-12-02T09:00:00Z", "fromLevel": 1, "toLevel": 0,
                           "drawdown": "0.01", "reason": "recovered"}])  # fmt: skip
    report = report_from_status(engines, [pol], NOW)
    assert report["day"] == "2026-12-03"
    assert [e["name"] for e in report["engines"]] == ["a", "b", "x"]
    (p,) = report["portfolios"]
    assert p["engines"] == ["a", "b"]
    assert p["dayPnl"] == "-6.25"
    assert p["equity"] == "1000"
    assert Decimal(p["dayReturn"]) == Decimal("-0.011111")
    assert [c["toLevel"] for c in p["levelChanges"]] == [1]  # today's only
    assert report["engines"][0]["trades"] is None  # not in the status
    assert p["trades"] is None  # unknown, not zero
    assert any("trades, fills and fees" in m for m in report["missing"])
    text = render_report(report, Style(False), all_namespaces=False)
    assert "Daily report 2026-12-03 (UTC), from status" in text
    assert "-6.25" in text


def test_a_day_from_the_database() -> None:
    rows = DayRows(
        open_equity={"fleet/a": Decimal("600"), "fleet/b": Decimal("400"), "other/z": Decimal(1)},
        close_equity={"fleet/a": Decimal("612.5"), "fleet/b": Decimal("395")},
        max_drawdown={"fleet/a": Decimal("0.0123")},
        trades={"fleet/a": 3},
        realized={"fleet/a": Decimal("15.5")},
        fills={"fleet/a": 6, "fleet/b": 1},
        fees={"fleet/a": {"USDT": Decimal("1.20"), "BTC": Decimal("0.00001")},
              "fleet/b": {"USDT": Decimal("0.3")}},
        level_changes=[{"namespace": "fleet", "policy": "eternal", "time": "2026-12-02T10:00:00Z",
                        "fromLevel": 0, "toLevel": 1, "drawdown": "0.1", "reason": "drawdown"}],
    )  # fmt: skip
    mine = rows.only("fleet")
    assert "other/z" not in mine.open_equity
    pol = policy(engines=["a", "b"])
    report = report_from_database(date(2026, 12, 2), mine, [engine("a", "1", "0")], [pol])
    by_name = {e["name"]: e for e in report["engines"]}
    assert by_name["a"]["dayPnl"] == "12.50"
    assert by_name["a"]["fees"] == {"BTC": "0.00001", "USDT": "1.2"}
    assert by_name["a"]["trades"] == 3
    assert by_name["a"]["realizedPnl"] == "15.50"
    assert by_name["b"]["dayPnl"] == "-5.00"
    (p,) = report["portfolios"]
    assert p["dayPnl"] == "7.50"
    assert p["equity"] == "1007.50"
    assert p["equityOpen"] == "1000.00"
    assert p["trades"] == 3
    assert p["fees"] == {"BTC": "0.00001", "USDT": "1.5"}
    assert p["levelAtClose"] == 1
    text = render_report(report, Style(False), all_namespaces=False)
    assert "from database" in text
    assert "0.00001 BTC, 1.2 USDT" in text


def test_an_engine_without_snapshots_that_day_has_no_pnl_rather_than_a_wrong_one() -> None:
    rows = DayRows(open_equity={"fleet/a": Decimal("600")})
    report = report_from_database(NOW.date() - timedelta(days=1), rows, [], [])
    assert report["engines"][0]["dayPnl"] is None
