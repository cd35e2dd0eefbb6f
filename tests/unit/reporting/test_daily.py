"""The daily report's scheduling decision (a fake clock across midnight) and its arithmetic."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from eternal_operator.reporting.daily import (
    DayRows,
    day_transfers,
    report_from_database,
    with_close_of_policies,
)
from eternal_operator.reporting.notify import alert, redacted
from eternal_operator.reporting.schedule import DailyReporter, due_day, pause
from eternal_operator.reporting.store import Stored

pytestmark = pytest.mark.unit

DAY = date(2026, 12, 2)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Reports:
    """daily_reports in memory (the PostgreSQL one is the integration test's)."""

    def __init__(self) -> None:
        self.rows: dict[date, Stored] = {}

    async def get(self, day: date) -> Stored | None:
        return self.rows.get(day)

    async def insert(self, day: date, report: dict[str, Any], now: datetime) -> bool:
        if day in self.rows:
            return False
        self.rows[day] = Stored(day, json.loads(json.dumps(report)), None)
        return True

    async def mark_sent(self, day: date, now: datetime, destination: str) -> None:
        self.rows[day] = Stored(day, self.rows[day].report, now)


class Notifier:
    destination = "http://alertmanager:9093/api/v2/alerts"

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[tuple[str, datetime]] = []
        self.failures = failures

    async def send(self, report: Mapping[str, Any], now: datetime) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("alertmanager away")
        self.sent.append((report["day"], now))


def builder(built: list[date]) -> Any:
    async def build(day: date, now: datetime) -> dict[str, Any]:
        built.append(day)
        return {"day": day.isoformat(), "engines": [], "portfolios": [], "missing": []}

    return build


def test_the_due_day_is_the_last_closed_one_and_the_pause_ends_at_midnight() -> None:
    assert due_day(at("2026-12-03T00:00:00")) == DAY
    assert due_day(at("2026-12-02T23:59:59")) == DAY - timedelta(days=1)
    assert pause(at("2026-12-02T23:59:30")) == 30
    assert pause(at("2026-12-02T12:00:00")) == 60  # the retry bound, not 12 hours
    assert pause(at("2026-12-02T23:59:59.5")) == 0.5


async def test_crossing_midnight_builds_and_sends_once_and_a_restart_sends_nothing() -> None:
    clock, reports, notifier, built = Clock(at("2026-12-02T23:58:00")), Reports(), Notifier(), []
    await reports.insert(DAY - timedelta(days=1), {"day": "2026-12-01"}, clock())
    await reports.mark_sent(DAY - timedelta(days=1), clock(), "x")
    reporter = DailyReporter(reports, builder(built), notifier, clock)

    outcomes = []
    while clock() < at("2026-12-03T00:05:00"):
        outcomes.append(await reporter.pass_once())
        await clock.sleep(pause(clock()))
    assert built == [DAY]  # at the first pass after 00:00, not before, not again
    assert notifier.sent == [("2026-12-02", at("2026-12-03T00:00:00"))]
    assert outcomes[:2] == ["done", "done"]
    assert outcomes[2] == "built"
    assert set(outcomes[3:]) == {"done"}

    restarted = DailyReporter(reports, builder(built), notifier, Clock(at("2026-12-03T00:07:00")))
    assert await restarted.pass_once() == "done"
    assert built == [DAY]
    assert len(notifier.sent) == 1


async def test_an_operator_down_at_midnight_catches_up_once_at_start() -> None:
    clock, reports, built = Clock(at("2026-12-03T15:00:00")), Reports(), []
    reporter = DailyReporter(reports, builder(built), None, clock)
    assert await reporter.pass_once() == "built"
    assert await reporter.pass_once() == "done"
    assert built == [DAY]  # only the last closed day: the days before it are not rebuilt
    assert reports.rows[DAY].sent_at is None  # no destination: stored (and logged) only


async def test_a_failed_send_is_retried_until_it_succeeds_then_never_again() -> None:
    clock, reports, notifier, built = Clock(at("2026-12-03T00:00:00")), Reports(), Notifier(2), []
    reporter = DailyReporter(reports, builder(built), notifier, clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await reporter.pass_once()
        await clock.sleep(pause(clock()))
    assert await reporter.pass_once() == "sent"
    assert await reporter.pass_once() == "done"
    assert built == [DAY]
    assert [d for d, _ in notifier.sent] == ["2026-12-02"]


def test_day_pnl_nets_the_days_transfers_and_a_portfolio_closes_with_its_policy() -> None:
    rows = DayRows(
        open_equity={"fleet/a": D("1000"), "fleet/b": D("500")},
        close_equity={"fleet/a": D("1250"), "fleet/b": D("480")},
        close_drawdown={"fleet/a": D("0.001"), "fleet/b": D("0.04")},
        max_drawdown={"fleet/a": D("0.01"), "fleet/b": D("0.05")},
        trades={"fleet/a": 3},
        fees={"fleet/a": {"USDT": D("0.3")}},
    )
    allocation = {"metadata": {"namespace": "fleet"}, "status": {"transfers": [
        # 200 in from the master and 100 moved a -> b the same day: a +100 net, b +100.
        {"transferId": "1", "toEngine": "a", "amount": "200", "state": "Success",
         "time": "2026-12-02T10:00:00Z"},
        {"transferId": "2", "fromEngine": "a", "toEngine": "b", "amount": "100",
         "state": "Success", "time": "2026-12-02T11:00:00Z"},
        {"transferId": "3", "toEngine": "a", "amount": "999", "state": "Pending",
         "time": "2026-12-02T12:00:00Z"},  # not done: not netted
        {"transferId": "4", "toEngine": "b", "amount": "999", "state": "Success",
         "time": "2026-12-03T00:00:00Z"},  # the next day
    ]}}  # fmt: skip
    moved = day_transfers([allocation], DAY)
    assert moved == {"fleet/a": D("100"), "fleet/b": D("100")}
    policy = {"metadata": {"namespace": "fleet", "name": "eternal"},
              "status": {"engines": ["a", "b"], "navPerUnit": "1.0312", "highWaterMark": "1.05",
                         "drawdown": "0.0179", "level": 1, "halted": False}}  # fmt: skip
    report = report_from_database(DAY, rows, [], [policy], moved)
    a, b = report["engines"]
    assert (a["dayPnl"], a["transfers"], a["drawdown"]) == ("150.00", "100.00", "0.0010")
    assert b["dayPnl"] == "-120.00"  # 480 - 500 - 100 moved in
    report = with_close_of_policies(report, [policy], at("2026-12-03T00:00:02"))
    (p,) = report["portfolios"]
    assert (p["equity"], p["dayPnl"], p["trades"]) == ("1730.00", "30.00", 3)
    assert (p["navPerUnit"], p["highWaterMark"], p["drawdown"]) == ("1.0312", "1.05", "0.0179")
    assert (p["level"], p["halted"], p["closeAt"]) == (1, False, "2026-12-03T00:00:02Z")
    assert not any("after the close" in m for m in report["missing"])
    late = with_close_of_policies(report_from_database(DAY, rows, [], [policy]), [policy],
                                  at("2026-12-03T15:00:00"))  # fmt: skip
    assert any("900 min after the close" in m for m in late["missing"])


def test_the_alert_carries_the_report_and_no_credentials() -> None:
    report = {"day": "2026-12-02", "engines": [{"namespace": "fleet", "name": "a",
              "equity": "1250.00", "dayPnl": "150.00", "maxDrawdown": "0.0100", "trades": 3,
              "fees": {"USDT": "0.3"}}],
              "portfolios": [{"namespace": "fleet", "policy": "eternal", "equity": "1730.00",
              "dayPnl": "30.00", "navPerUnit": "1.0312", "drawdown": "0.0179", "level": 1,
              "halted": True, "trades": 3, "fees": {"USDT": "0.3"}}], "missing": []}  # fmt: skip
    sent = alert(report, at("2026-12-03T00:00:00"))
    assert sent["labels"] == {"alertname": "EternalEngineDailyReport", "severity": "info",
                              "day": "2026-12-02"}  # fmt: skip
    lines = sent["annotations"]["description"].splitlines()
    assert lines[0] == ("fleet/eternal: equity 1730.00, day PnL 30.00, NAV 1.0312, drawdown "
                        "0.0179, level 1 HALTED, trades 3, fees 0.3 USDT")  # fmt: skip
    assert lines[1].startswith("  fleet/a: equity 1250.00, day PnL 150.00")
    assert json.loads(sent["annotations"]["report"]) == report
    assert all(isinstance(v, str) for v in sent["annotations"].values())
    assert sent["endsAt"] > sent["startsAt"]
    assert redacted("http://user:s3cret@am.local:9093/api/v2/alerts?x=1") == (
        "http://am.local:9093/api/v2/alerts"
    )
