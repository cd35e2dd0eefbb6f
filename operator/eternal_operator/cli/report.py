"""The daily report as text; its figures are `eternal_operator.reporting.daily`'s, shared with the
operator's 00:00 UTC report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eternal_operator.reporting.daily import (
    DayRows,
    day_bounds,
    day_transfers,
    only_namespace,
    read_day,
    read_stored,
    report_from_database,
    report_from_status,
)
from eternal_operator.reporting.numbers import decimal

from .render import Cell, Style, heading, table
from .views import fmt_money, fmt_pct, fmt_signed

__all__ = [
    "DayRows",
    "day_bounds",
    "day_transfers",
    "only_namespace",
    "read_day",
    "read_stored",
    "render_report",
    "report_from_database",
    "report_from_status",
]


# -- text ---------------------------------------------------------------------------------------


def _fees(fees: Mapping[str, str] | None) -> str:
    if fees is None:
        return "-"
    return ", ".join(f"{amount} {coin}" for coin, amount in fees.items()) or "0"


def render_report(report: Mapping[str, Any], style: Style, *, all_namespaces: bool) -> str:
    out = [heading(f"Daily report {report['day']} (UTC), from {report['source']}", style)]
    ns_col = ["NAMESPACE"] if all_namespaces else []

    def ns(row: Mapping[str, Any]) -> list[Cell]:
        return [Cell(str(row["namespace"]))] if all_namespaces else []

    def pnl(value: Any) -> Cell:
        number = decimal(value)
        colour = None if number is None or number == 0 else "green" if number > 0 else "red"
        return Cell(fmt_signed(value), colour)

    def count(value: Any) -> str:
        return "-" if value is None else str(value)

    out.append("")
    out.append(heading("Engines", style))
    if report["engines"]:
        out.append(table(
            [*ns_col, "NAME", "EQUITY", "DAY PNL", "DRAWDOWN", "MAX DD", "LEVEL", "TRADES",
             "FILLS", "FEES", "REALIZED"],
            [[*ns(e), Cell(e["name"]), Cell(fmt_money(e["equity"])), pnl(e["dayPnl"]),
              Cell(fmt_pct(e["drawdown"])), Cell(fmt_pct(e["maxDrawdown"])),
              Cell(count(e["level"])), Cell(count(e["trades"])), Cell(count(e["fills"])),
              Cell(_fees(e["fees"])), Cell(fmt_signed(e["realizedPnl"]))]
             for e in report["engines"]],
            style,
        ))  # fmt: skip
    else:
        out.append("  No engines found.")
    out.append("")
    out.append(heading("Portfolios", style))
    if report["portfolios"]:
        out.append(table(
            [*ns_col, "POLICY", "ENGINES", "EQUITY", "DAY PNL", "TODAY", "NAV", "DRAWDOWN", "LEVEL",
             "TRADES", "FEES", "LEVEL CHANGES"],
            [[*ns(p), Cell(p["policy"]), Cell(str(len(p["engines"]))),
              Cell(fmt_money(p["equity"])), pnl(p["dayPnl"]), Cell(fmt_pct(p.get("dayReturn"))),
              Cell(count(p.get("navPerUnit"))),
              Cell(fmt_pct(p.get("drawdown"))),
              Cell(count(p.get("level", p.get("levelAtClose")))),
              Cell(count(p["trades"])), Cell(_fees(p["fees"])),
              Cell(str(len(p["levelChanges"])))]
             for p in report["portfolios"]],
            style,
        ))  # fmt: skip
        for p in report["portfolios"]:
            for c in p["levelChanges"]:
                out.append(
                    f"  {p['policy']}: {c.get('time')} level {c.get('fromLevel')} -> "
                    f"{c.get('toLevel')} at drawdown {fmt_pct(c.get('drawdown'))}: "
                    f"{c.get('reason')}"
                )
    else:
        out.append("  No circuit-breaker policies found.")
    for note in report["missing"]:
        out.append(style.paint(f"Note: {note}.", "dim"))
    return "\n".join(out) + "\n"
