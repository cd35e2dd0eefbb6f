"""Sending the daily report: an `info` alert to Alertmanager, which routes it on.

Alertmanager rather than a chat webhook of our own: the stack's alerts already go through it, so
the report reaches whoever its routes name (Slack, Telegram, e-mail) with no second set of
receiver credentials in the operator, silences and inhibitions apply to it as to any alert, and
a repeated POST of the same alert (same labels) is one alert, not a second message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

ALERT_NAME = "EternalEngineDailyReport"
ALERT_LIFETIME = timedelta(hours=1)
"""endsAt after the POST: the alert resolves by itself (a report is news, not a condition)."""


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """One line per portfolio, then one per engine: the figures a person reads first."""
    lines = []
    for p in report["portfolios"]:
        fees = ", ".join(f"{v} {c}" for c, v in (p.get("fees") or {}).items()) or "0"
        lines.append(
            f"{p['namespace']}/{p['policy']}: equity {_or_dash(p.get('equity'))}, "
            f"day PnL {_or_dash(p.get('dayPnl'))}, NAV {_or_dash(p.get('navPerUnit'))}, "
            f"drawdown {_or_dash(p.get('drawdown'))}, level {_or_dash(p.get('level'))}"
            f"{' HALTED' if p.get('halted') else ''}, trades {_or_dash(p.get('trades'))}, "
            f"fees {fees}"
        )
    for e in report["engines"]:
        fees = ", ".join(f"{v} {c}" for c, v in (e.get("fees") or {}).items()) or "0"
        lines.append(
            f"  {e['namespace']}/{e['name']}: equity {_or_dash(e.get('equity'))}, "
            f"day PnL {_or_dash(e.get('dayPnl'))}, max drawdown "
            f"{_or_dash(e.get('maxDrawdown'))}, trades {_or_dash(e.get('trades'))}, fees {fees}"
        )
    return lines


def alert(report: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The Alertmanager v2 alert that carries `report` (annotations are strings)."""
    portfolios = report["portfolios"]
    head = f"Daily report {report['day']} (UTC): {len(portfolios)} portfolio(s), " + (
        f"{len(report['engines'])} engine(s)"
    )
    return {
        "labels": {"alertname": ALERT_NAME, "severity": "info", "day": str(report["day"])},
        "annotations": {
            "summary": head,
            "description": "\n".join(summary_lines(report)),
            "report": json.dumps(report, separators=(",", ":"), sort_keys=True),
        },
        "startsAt": now.astimezone(UTC).isoformat(),
        "endsAt": (now + ALERT_LIFETIME).astimezone(UTC).isoformat(),
    }


def redacted(url: str) -> str:
    """The URL without user and password: what logs and the stored row may show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class AlertmanagerNotifier:
    url: str
    """Alertmanager's base URL, e.g. http://alertmanager:9093."""
    timeout_seconds: float = 10.0

    @property
    def destination(self) -> str:
        return redacted(self.url.rstrip("/") + "/api/v2/alerts")

    async def send(self, report: Mapping[str, Any], now: datetime) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.url.rstrip("/") + "/api/v2/alerts", json=[alert(report, now)]) as r,
        ):
            if r.status >= 300:
                raise RuntimeError(f"{self.destination} answered {r.status}")
