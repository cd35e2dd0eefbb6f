"""Assembling and running the venue: the aiohttp application and its heartbeat task.

`PaperVenue` is what tests and `__main__` use: `await venue.start()` binds (port 0 picks
a free port), `venue.http_url` and `venue.ws_url` say where, `venue.admin_token` what the
admin API wants in X-Admin-Token, `await venue.stop()` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from aiohttp import web

from paper_venue.clock import Clock, ClockMode
from paper_venue.config import VenueSettings
from paper_venue.router import admin_token, snapshot
from paper_venue.router.admin import Admin
from paper_venue.router.auth import ReplayGuard
from paper_venue.router.faults import Faults
from paper_venue.router.gateway import Gate, make_handler
from paper_venue.router.ratelimit import RateLimiter
from paper_venue.router.rest import all_endpoints
from paper_venue.router.venue import Venue
from paper_venue.router.ws import WebSockets

log = logging.getLogger(__name__)
BACKLOG = 4096
"""Connections the kernel queues for the venue until it accepts them (net.core.somaxconn caps
it). A fleet halting at once opens hundreds in a blink: every runtime and the operator read each
account with several requests together. aiohttp's default, 128, had the kernel drop the SYNs
past it, and each dropped connection waited a whole second for TCP to send its SYN again: a
second added to a quarter of the fleet's flattens, where Bybit answers at once."""


class PaperVenue:
    """One running paper exchange."""

    def __init__(self, settings: VenueSettings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or VenueSettings()
        self.data_dir = self.settings.resolved_data_dir()
        self.admin_token = admin_token.resolve(self.settings.admin_token, self.data_dir)
        self.venue = Venue(self.settings, clock)
        if self.settings.snapshot_path is not None and Path(self.settings.snapshot_path).exists():
            snapshot.restore(self.venue, Path(self.settings.snapshot_path))
            log.info("restored state from %s", self.settings.snapshot_path)
        self.faults = Faults()
        self.sockets = WebSockets(self.venue, self.settings.ws_reply_delay_ms, self.faults)
        self.limiter = RateLimiter(self.settings.rate_limits)
        self.gate = Gate(
            self.venue, self.limiter, self.faults, ReplayGuard(), self.settings.max_body_bytes
        )
        self.admin = Admin(
            self.venue, self.faults, self.sockets, self.admin_token, self.data_dir, self._update
        )
        self.app = self._build()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.port = 0

    def _update(self) -> None:
        self.venue.update()

    def _build(self) -> web.Application:
        app = web.Application(
            client_max_size=self.settings.max_body_bytes + 1024,
            middlewares=[self.admin.guard],
        )
        app.add_routes(self.admin.routes())
        app.add_routes(
            [
                web.get("/v5/public/{channel}", self.sockets.public_handler),
                web.get("/v5/private", self.sockets.private_handler),
            ]
        )
        handler = make_handler(self.gate, all_endpoints())
        app.router.add_route("*", "/{tail:.*}", handler)
        return app

    @property
    def http_url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.settings.host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, backlog=BACKLOG)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        self._ticker = asyncio.create_task(self._tick_loop())
        log.info("paper venue listening on %s", self.http_url)

    async def _tick_loop(self) -> None:
        interval = self.settings.clock.tick_interval_ms / 1000
        every = self.settings.snapshot_interval_s
        saved_at = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            if every and self.settings.snapshot_path and time.monotonic() - saved_at >= every:
                saved_at = time.monotonic()
                self._save()
            if self.venue.clock.mode is ClockMode.STEPPED:
                continue
            try:
                self.venue.update()
            except Exception:
                log.exception("venue update failed")

    def _save(self) -> None:
        """Write the state to `snapshot_path` (periodically, and at shutdown)."""
        if self.settings.snapshot_path is None:
            return
        try:
            snapshot.save(self.venue, Path(self.settings.snapshot_path))
        except OSError:
            log.exception("writing the snapshot to %s failed", self.settings.snapshot_path)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for conn in list(self.sockets.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        self._save()
        if self._runner is not None:
            await self._runner.cleanup()
