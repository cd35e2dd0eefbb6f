"""The operator's health endpoints, served from process start whether or not it leads.

kopf's own liveness endpoint only starts with kopf, that is after the Lease is won: a standby
replica would answer nothing and be restarted by its liveness probe. This server takes the
health port instead (kopf is started without one, so the two never fight over it):

- `/healthz` (liveness): the process answers and its leader-election loop is alive, i.e. it
  finished a round within three Lease durations. A stuck loop is worth a restart; a standby
  that simply waits is not.
- `/readyz` (readiness): this replica can do its part: it heard from the API server about the
  Lease within one Lease duration (the leader renewing it, a standby watching it). Leading is
  not required: with a rolling update that keeps every old pod until a new one is Ready, a
  readiness that meant "leads" would never let the new pod become Ready, and a
  PodDisruptionBudget would count the standby as permanently disrupted.
- `/leader`: 200 on the replica that leads, 503 on a standby (for people and scripts).

Every answer is a small JSON object with the identity, the role and the holder last seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .leader import LeaderElection

LIVENESS_LEASES = 3.0
"""The election loop may be silent for this many Lease durations before it counts as stuck."""


@dataclass
class Health:
    """What the endpoints answer, from the elector's state (None: leader election is off)."""

    elector: LeaderElection | None
    monotonic: Callable[[], float] = time.monotonic

    def _facts(self) -> dict[str, Any]:
        if self.elector is None:
            return {"leaderElection": False, "role": "leader"}
        elector = self.elector
        return {
            "identity": elector.identity,
            "role": "leader" if elector.leading else "standby",
            "holder": elector.holder,
        }

    def live(self) -> tuple[bool, dict[str, Any]]:
        facts = self._facts()
        if self.elector is None:
            return True, facts
        silent = self.monotonic() - self.elector.ticked_at
        alive = silent < LIVENESS_LEASES * self.elector.lease_seconds
        facts["electionLoopSilentSeconds"] = round(silent, 3)
        return alive, facts

    def ready(self) -> tuple[bool, dict[str, Any]]:
        facts = self._facts()
        if self.elector is None:
            return True, facts
        contacted = self.elector.contacted_at
        if contacted is None:
            return False, {**facts, "reason": "the Lease has not been read yet"}
        since = self.monotonic() - contacted
        facts["leaseSeenSecondsAgo"] = round(since, 3)
        if since >= self.elector.lease_seconds:
            return False, {**facts, "reason": "no answer about the Lease within its duration"}
        return True, facts

    def leads(self) -> tuple[bool, dict[str, Any]]:
        facts = self._facts()
        return facts["role"] == "leader", facts


def _answer(verdict: tuple[bool, dict[str, Any]]) -> web.Response:
    ok, facts = verdict
    return web.json_response({"ok": ok, **facts}, status=200 if ok else 503)


@dataclass
class HealthServer:
    """Serves `Health` on 0.0.0.0:port until stopped."""

    health: Health
    port: int
    host: str = "0.0.0.0"  # noqa: S104 - probed by the kubelet and the helm test, in-cluster
    _runner: web.AppRunner | None = field(default=None, init=False)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", _handler(self.health.live))
        app.router.add_get("/readyz", _handler(self.health.ready))
        app.router.add_get("/leader", _handler(self.health.leads))
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


Verdict = Callable[[], tuple[bool, dict[str, Any]]]


def _handler(verdict: Verdict) -> Callable[[web.Request], Any]:
    async def handle(_request: web.Request) -> web.Response:
        return _answer(verdict())

    return handle
