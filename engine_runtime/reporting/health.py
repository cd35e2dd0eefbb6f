"""HTTP endpoints: GET /healthz (liveness: the event loop answers and the main loop is not
stuck), GET /readyz (readiness: reconciled with the venue and both streams up) on the health
port, and GET /metrics on the metrics port."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest

from .metrics import Metrics

STUCK_AFTER_S = 60.0


class Probes:
    def __init__(self, ready: Callable[[], tuple[bool, str]]) -> None:
        self.ready = ready
        self.beat = time.monotonic()

    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self.beat
        return (age < STUCK_AFTER_S, f"main loop beat {age:.1f}s ago")


class HttpEndpoints:
    def __init__(
        self, probes: Probes, metrics: Metrics, health_port: int, metrics_port: int
    ) -> None:
        self.probes = probes
        self.metrics = metrics
        self.health_port = health_port
        self.metrics_port = metrics_port
        self._runners: list[web.AppRunner] = []
        # Built once as the runtime starts: no counter exposes a `_created` series (an extra
        # series each, and Prometheus gains nothing from it).
        disable_created_metrics()  # type: ignore[no-untyped-call]

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, why = self.probes.alive()
        return web.Response(status=200 if ok else 503, text=why)

    async def _readyz(self, request: web.Request) -> web.Response:
        ok, why = self.probes.ready()
        return web.Response(status=200 if ok else 503, text=why)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self, host: str = "0.0.0.0") -> None:  # noqa: S104 - probes come from the kubelet
        health = web.Application()
        health.add_routes([web.get("/healthz", self._healthz), web.get("/readyz", self._readyz)])
        apps = [(health, self.health_port)]
        if self.metrics_port and self.metrics_port != self.health_port:
            metrics = web.Application()
            metrics.add_routes([web.get("/metrics", self._metrics)])
            apps.append((metrics, self.metrics_port))
        else:
            health.add_routes([web.get("/metrics", self._metrics)])
        for app, port in apps:
            if not port:
                continue
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            self._runners.append(runner)

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
