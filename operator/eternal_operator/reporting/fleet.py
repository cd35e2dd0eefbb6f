"""The operator's side of the daily report: the fleet's objects from the API server, the day's
records from PostgreSQL, the same figures as `kubectl eternal report` (`daily`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eternal_kernel.api.v1alpha1 import GROUP, VERSION
from eternal_operator.kube import KubeClient, resource_path

from .daily import day_transfers, read_day, report_from_database, with_close_of_policies


@dataclass
class FleetReport:
    kube: KubeClient
    database_url: str
    namespaces: Sequence[str] = ()
    """The namespaces the operator watches; empty: all."""

    async def _items(self, kind: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        scopes: Sequence[str | None] = self.namespaces or [None]
        for ns in scopes:
            body = await self.kube.request("GET", resource_path(f"{GROUP}/{VERSION}", kind, ns))
            out.extend(body.get("items") or [])
        return out

    async def __call__(self, day: date, now: datetime) -> dict[str, Any]:
        # The policies first: their status is the portfolios' close, read as near 00:00 as can be.
        policies = await self._items("CircuitBreakerPolicy")
        engines = await self._items("Engine")
        allocations = await self._items("Allocation")
        rows = await read_day(self.database_url, day)
        report = report_from_database(day, rows, engines, policies, day_transfers(allocations, day))
        if self.namespaces:
            watched = set(self.namespaces)
            report["engines"] = [e for e in report["engines"] if e["namespace"] in watched]
        return with_close_of_policies(report, policies, now)
