"""`python -m eternal_operator`: the operator process.

Reads EE_OPERATOR_* settings (a bad value stops it with a message naming the variable), serves
/metrics and, from the start, its health endpoints (health.py: /healthz, /readyz, /leader),
waits for leadership if leader election is on, then runs the kopf handlers until SIGTERM, or
until the Lease is lost (exit code 1, so the pod restarts and waits again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import kopf
from pydantic import ValidationError

from .backoff import Backoff
from .controllers.main import register
from .health import Health, HealthServer
from .kube import KubeClient
from .leader import LeaderElection
from .locks import KeyedLocks, Wakeups
from .metrics import serve as serve_metrics
from .namespaces import serve_namespaces_listed_at_watch_start
from .settings import OperatorSettings
from .venue_actions import BybitVenueActions

log = logging.getLogger("eternal_operator")


async def run(settings: OperatorSettings) -> int:
    from .controllers.engine.reconcile import Context

    kube = KubeClient.from_environment()
    venue = BybitVenueActions(settings)
    registry = kopf.OperatorRegistry()
    register(registry, settings)
    memo = kopf.Memo(
        ctx=Context(kube=kube, settings=settings, venue=venue),
        locks=KeyedLocks(),
        wakeups=Wakeups(),
        phases={},
        phase_inputs={},
        announced={},
        backoff=Backoff(settings.error_backoff_seconds, settings.error_backoff_max_seconds),
        redis=redis_client(settings),
        store=await open_store(settings),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    elector = LeaderElection(
        kube=kube,
        namespace=settings.pod_namespace,
        name=settings.lease_name,
        identity=settings.pod_name,
        lease_seconds=settings.lease_seconds,
    )
    # Our own health server, up before the Lease is won; kopf gets no liveness endpoint, so
    # the two never bind the same port.
    health = HealthServer(
        Health(elector if settings.leader_election else None), settings.health_port
    )
    keeper: asyncio.Task[None] | None = None
    reporter: asyncio.Task[None] | None = None
    try:
        if settings.health_port:
            await health.start()
        if settings.leader_election:
            if not await elector.acquire(stop):
                return 0
            # Renewed apart from the operator's loop and its connections, so a busy loop
            # never costs the Lease (leader.py).
            keeper = asyncio.create_task(elector.keep_apart(stop, KubeClient.from_environment()))
        serve_namespaces_listed_at_watch_start()
        reporter = start_daily_report(settings, kube, memo.store, stop)
        await kopf.operator(
            registry=registry,
            memo=memo,
            clusterwide=settings.clusterwide,
            namespaces=list(settings.namespaces),
            standalone=True,
            stop_flag=stop,
        )
    finally:
        stop.set()
        if reporter is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        if keeper is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if settings.leader_election:
                await elector.release()
        await health.stop()
        await venue.close()
        await kube.close()
    return 1 if elector.lost else 0


async def open_store(settings: OperatorSettings) -> object | None:
    """PostgreSQL for the governance state, migrated at start; none without a database URL."""
    if not settings.database_url:
        return None
    from .governance.store import GovernanceStore

    return await GovernanceStore.open(settings.database_url)


def start_daily_report(
    settings: OperatorSettings, kube: KubeClient, store: object | None, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """The leader's daily report at 00:00 UTC (stored in the governance database, sent to
    Alertmanager when configured); none without a database to store it in."""
    from datetime import UTC, datetime

    from .governance.store import GovernanceStore
    from .reporting.fleet import FleetReport
    from .reporting.notify import AlertmanagerNotifier
    from .reporting.schedule import DailyReporter
    from .reporting.store import ReportStore

    if not settings.daily_report or not isinstance(store, GovernanceStore):
        if settings.daily_report:
            log.info("daily report off: no database (EE_OPERATOR_DATABASE_URL) to store it in")
        return None
    assert settings.database_url is not None  # the store is opened from it
    url = settings.report_alertmanager_url
    reporter = DailyReporter(
        reports=ReportStore(store.pool),
        build=FleetReport(kube, settings.database_url, settings.namespaces),
        notifier=AlertmanagerNotifier(url) if url else None,
        clock=lambda: datetime.now(UTC),
    )
    return asyncio.create_task(reporter.run(stop), name="daily-report")


def redis_client(settings: OperatorSettings) -> object | None:
    """Redis for the equity streams (the fast path); the Engine status is the fallback."""
    if not settings.redis_url:
        return None
    import redis.asyncio

    return redis.asyncio.from_url(settings.redis_url, socket_timeout=1)


def main() -> int:
    try:
        settings = OperatorSettings()
    except ValidationError as error:
        for problem in error.errors():
            variable = "EE_OPERATOR_" + "_".join(str(p) for p in problem["loc"]).upper()
            print(f"invalid setting {variable}: {problem['msg']}", file=sys.stderr)
        return 2
    kopf.configure(
        verbose=settings.log_level == "DEBUG",
        quiet=settings.log_level in ("WARNING", "ERROR"),
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL,
    )
    if settings.metrics_port:
        serve_metrics(settings.metrics_port)
    log.info("eternal-engine operator starting as %s", settings.pod_name)
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
