"""The runtime's lifecycle: start (load, reconcile, stream), trade, obey, report, stop.

Start order matters: probes first (liveness answers during a long start), then the database
(migrations) and Redis, the venue's instruments, the last directive from the checkpoint, the
Engine watch, reconciliation with the venue, candle warm-up and the streams; only when all of
that is done does the strategy's output reach the order manager (`/readyz` turns 200).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from engine_runtime.config import Config
from engine_runtime.execution.flattener import Flattener
from engine_runtime.execution.manager import OrderManager
from engine_runtime.governance.gate import ExposureGate, now_ms
from engine_runtime.governance.kube import EngineClient
from engine_runtime.governance.obedience import Governor
from engine_runtime.governance.watcher import Watcher
from engine_runtime.live import checkpoint as strategy_checkpoint
from engine_runtime.live.feed import BookFeed, Subscriptions, timer_due
from engine_runtime.live.funding import FundingWatcher
from engine_runtime.live.market import LiveMarket
from engine_runtime.live.runner import StrategyRunner
from engine_runtime.persistence.cache import Cache
from engine_runtime.persistence.store import Store
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.errors import ErrorRegistry, ErrorSource
from engine_runtime.reporting.health import HttpEndpoints, Probes
from engine_runtime.reporting.logs import Redactor
from engine_runtime.reporting.metrics import Metrics
from engine_runtime.reporting.status import start_error_patch
from engine_runtime.strategies.interface import Strategy, TimerEvent, TimerSpec
from eternal_kernel.bybit.aio import AioTransport
from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import FatalError, VenueError
from eternal_kernel.bybit.ratelimit import RateLimiter
from eternal_kernel.bybit.raw import BybitRawClient
from eternal_kernel.bybit.streams import BybitStream
from eternal_kernel.model.enums import Category
from eternal_kernel.model.instruments import Instrument

from . import preflight
from .dispatch import Dispatcher
from .equity import EquityPublisher
from .obey import Obedience, obey, report_on_final
from .records import Records
from .recovery import Reconciler
from .reporter import Reporter, paused_reason
from .strategy import build_strategy

log = logging.getLogger(__name__)
STREAM_WAIT_S = 20.0


class Runtime:
    def __init__(self, config: Config, strategy: Strategy | None = None) -> None:
        self.config = config
        s = config.settings
        self.metrics = Metrics(
            engine=config.engine.engine.name,
            namespace=config.engine.engine.namespace,
            strategy=config.engine.strategy.value,
        )
        self.probes = Probes(self._ready)
        self.http = HttpEndpoints(
            self.probes,
            self.metrics,
            s.health_port or config.engine.health_port,
            s.metrics_port or config.engine.metrics_port,
        )
        self.strategy = strategy or build_strategy(config.engine, s.strategy_factory)
        markets = [(sym, str(cat.value)) for sym, cat in self.strategy.markets()]
        markets = markets or [(sym, "linear") for sym in config.engine.symbols]
        self.markets = [(sym, Category(cat)) for sym, cat in markets]
        self.book_subs = Subscriptions.of(self.strategy)
        used = {c for _, c in self.markets} | self.book_subs.categories()
        self.categories = tuple(sorted(used, key=lambda c: c.value))
        self.feed: BookFeed | None = None
        limiter = RateLimiter({"orders": s.orders_per_second, "queries": s.queries_per_second})
        rest_url = config.engine.endpoints.rest_url
        key, secret = s.api_key.get_secret_value(), s.api_secret.get_secret_value()
        # Requests go out through aiohttp on the event loop (pybit signs them): no worker thread
        # per call, about a third of the CPU a call costs through pybit's own sending.
        self.transport = AioTransport(None, rest_url, key, secret)
        self.raw = BybitRawClient(
            rest_url, key, secret, limiter=limiter, on_call=self._on_call,
            transport=self.transport,
        )  # fmt: skip
        self.venue = BybitDomainClient(self.raw, on_error=self._on_venue_error)
        self.portfolio = Portfolio()
        self.governor = Governor(config.engine.engine.name)
        self.errors = ErrorRegistry()  # what status.runtime.lastError says
        self.instruments: dict[tuple[str, Category], Instrument] = {}
        self.emergency_stop: str | None = None
        self.reconciled = False
        self.stop_event = asyncio.Event()
        self.report_now = asyncio.Event()
        self.streams: list[BybitStream] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.exit_code = 0
        # set in start()
        self.store: Store
        self.cache: Cache
        self.manager: OrderManager
        self.runner: StrategyRunner
        self.flattener: Flattener
        self.reconciler: Reconciler
        self.reporter: Reporter
        self.equity: EquityPublisher
        self.records: Records
        self.watchers: list[Watcher] = []
        self.gate: ExposureGate
        self.kube: EngineClient | None = None

    # probes -----------------------------------------------------------------------------
    def _ready(self) -> tuple[bool, str]:
        down = [st.name for st in self.streams if not st.connected]
        if not self.reconciled:
            return False, "not reconciled with the venue yet"
        if down:
            return False, f"streams down: {', '.join(down)}"
        return True, "reconciled, streams up"

    @property
    def venue_connected(self) -> bool:
        return bool(self.streams) and all(
            st.connected for st in self.streams if st.name == "private"
        )

    def _on_call(self, endpoint: str, seconds: float, code: int) -> None:
        self.metrics.rest_latency.labels(endpoint).observe(seconds)

    def _on_venue_error(self, error: VenueError) -> None:
        self.metrics.venue_errors.labels(str(error.code)).inc()
        counted = getattr(self.strategy, "on_venue_error", None)  # a strategy's kill switch
        if callable(counted):
            counted(now_ms())
        if isinstance(error, FatalError):
            self._set_emergency_stop(f"venue refused the keys: {error}")

    def _set_emergency_stop(self, why: str) -> None:
        if self.emergency_stop is None:
            log.error("emergency stop: %s", why)
        self.emergency_stop = why
        self.report_now.set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if (error := self.errors.task_ended(task)) is not None:
            log.error("background task failed: %s", error, exc_info=error)

    # start ------------------------------------------------------------------------------
    async def start(self) -> None:
        s, e = self.config.settings, self.config.engine
        await self.http.start()
        # Can this engine trade on this venue at all? If not, a StartError says why, now.
        preflight.strategy_ready(self.strategy)  # e.g. a model it cannot verify: never trade
        checking = BybitDomainClient(self.raw)  # a refused key is not an emergency stop yet
        for (symbol, category), inst in (
            await preflight.listed_instruments(checking, self.markets)
        ).items():
            self.instruments[(symbol, category)] = inst
            self.portfolio.base_coins[symbol] = inst.base_coin
        await preflight.key_accepted(checking)
        self.store = await Store.connect(s.database_url.get_secret_value(), self.config.engine_key)
        self.cache = await Cache.connect(
            s.redis_url.get_secret_value(), s.engine_namespace, s.engine_name
        )
        self.strategy = strategy_checkpoint.load(self.strategy, await self.store.load_strategy())
        self.records = Records(self.store, self.cache, self.metrics, self.spawn)
        self.equity = EquityPublisher(
            self.venue, self.portfolio, self.errors, self.cache.equity,
            equity_interval_s=s.equity_interval_seconds,
            wallet_interval_s=s.wallet_interval_seconds,
        )  # fmt: skip
        self.manager = OrderManager(
            self.venue, self.store, self.portfolio, self.metrics, errors=self.errors
        )
        self.manager.on_fatal = self._set_emergency_stop
        self.manager.on_final.append(report_on_final(self.governor, self.report_now))
        self.flattener = Flattener(
            self.venue, self.manager, self.config.engine.engine.uid, self.instruments
        )
        window = max(self.strategy.warmup_bars() + 5, 50)
        self.runner = StrategyRunner(
            engine=self.config.engine_key,
            strategy=self.strategy,
            market=LiveMarket(list(self.markets), window, s.bar_interval),
            portfolio=self.portfolio,
            manager=self.manager,
            governor=self.governor,
            limits=e.risk,
            instruments=self.instruments,
            metrics=self.metrics,
            refuse=self.records.refusal,
            background=self.spawn,
            emergency_stop=lambda: self.emergency_stop,
        )
        self.runner.on_decided = lambda: self.spawn(self._save_strategy())
        self.runner.on_recentre = self.records.recentred
        self.reconciler = Reconciler(
            self.venue,
            self.store,
            self.manager,
            self.portfolio,
            self.instruments,
            self.records.discrepancy,
            resubmit_max_age_s=s.resubmit_max_age_seconds,
            categories=self.categories,
        )
        checkpoint = await self.store.load_checkpoint()
        self.governor.restore(checkpoint.directive)
        self.emergency_stop = checkpoint.emergency_stop
        if s.kubernetes:
            await self._start_watch()
        self.gate = ExposureGate(
            self.governor,
            confirm=self._confirm_governance if self.kube is not None else None,
            lease_s=s.governance_lease_seconds,
        )
        self.manager.gate = self.gate.check
        self.reporter = self._reporter()
        await self.reconciler.load()
        result = await self.reconciler.run(at_start=True)
        log.info(
            "reconciled with the venue",
            extra={
                "discrepancies": len(result.discrepancies),
                "resent": result.resent,
                "fills_booked": result.fills_booked,
            },
        )
        await self._warm_up()
        self._start_streams()
        await self._wait_streams()
        # Whatever happened between the reconciliation and the subscriptions: once more.
        await self.reconciler.run(at_start=False)
        if s.dcp_window_seconds:
            try:
                await self.venue.arm_disconnect_cancel_all(s.dcp_window_seconds)
            except VenueError as error:
                log.warning("disconnected-cancel-all not armed: %s", error)
        self.reconciled = True
        self.runner.enabled = True
        self.metrics.ready.set(1)
        funding = FundingWatcher(self.venue, self.runner, list(self.strategy.funding_symbols()))
        for loop in (
            funding.run(),
            self._governance_loop(),
            self.reporter.run(),
            self.equity.run(),
            self._housekeeping_loop(),
            *(self._timer_loop(spec) for spec in self.strategy.timers()),
        ):
            self.spawn(loop)
        self.report_now.set()
        gc.collect()
        gc.freeze()  # start-up objects leave the collector's scans: shorter pauses when trading
        log.info("trading", extra={"strategy": self.strategy.name, "markets": str(self.markets)})

    async def _start_watch(self) -> None:
        s = self.config.settings
        try:
            self.kube = EngineClient.from_environment(s.engine_namespace, s.engine_name)
        except Exception as error:
            log.error("no Kubernetes access (%s): status will not be reported", error)
            return
        engine = Watcher("engine", self.kube.engines, self._observe_engine)
        policies = Watcher(
            "policies", self.kube.policies, self.governor.observe_policy,
            on_deleted=self.governor.forget_policy,
        )  # fmt: skip
        self.watchers = [engine, policies]
        for watcher in self.watchers:
            self.spawn(watcher.run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(w.seen.wait() for w in self.watchers)), timeout=3
            )

    async def _confirm_governance(self) -> None:
        """Read our Engine and the namespace's policies now: governance as of this moment."""
        assert self.kube is not None
        sent = now_ms()
        self._observe_engine(await self.kube.get())
        items, _ = await self.kube.policies.list()
        for policy in items:
            self.governor.observe_policy(policy)
        self.governor.confirm(sent)

    async def _warm_up(self) -> None:
        size = max(self.strategy.warmup_bars() + 2, 3)
        interval = self.config.settings.bar_interval
        for (symbol, category), window in self.runner.market.windows.items():
            rows = await self.venue.klines(Category(category.value), symbol, interval, size + 1)
            for row in rows[:-1]:  # the last one is still forming
                window.add(int(row[0]), row[1], row[2], row[3], row[4], row[5])
            if window.rows:
                window.compute(self.strategy, symbol, category)
                self.portfolio.marks.setdefault(symbol, window.closes[-1])
            await self.cache.klines(category.value, symbol, interval, rows[-size:])
        start = self.runner.market.complete_bar()
        if start is not None:
            self.runner.market.bar_start = start

    def _start_streams(self) -> None:
        e, s = self.config.engine, self.config.settings
        if self.book_subs.books or self.book_subs.trades:
            loop = asyncio.get_running_loop()
            self.feed = BookFeed(
                self.runner,
                self.book_subs,
                schedule=loop.call_soon,
                resubscribe=lambda category, topic: self.spawn(self._resubscribe(category, topic)),
            )
        dispatcher = Dispatcher(
            runner=self.runner,
            manager=self.manager,
            portfolio=self.portfolio,
            cache=self.cache,
            metrics=self.metrics,
            background=self.spawn,
            on_fill=self._on_fill,
            on_price=self.equity.on_price,
            on_wallet=self.equity.on_balance_change,
            feed=self.feed,
        )
        base = e.endpoints.public_ws_url.rstrip("/")
        for category in self.categories:
            symbols = sorted({sym for sym, c in self.markets if c is category})
            topics = [f"kline.{s.bar_interval}.{sym}" for sym in symbols]
            topics += [f"tickers.{sym}" for sym in symbols]
            topics += self.book_subs.topics(category)
            self.streams.append(
                BybitStream(
                    f"public-{category.value}",
                    f"{base}/v5/public/{category.value}",
                    topics,
                    dispatcher.public(category),
                    on_connected=self._on_public_connected,
                    on_disconnected=self._public_dropped(category),
                )
            )
        private = ["order", "execution", "position", "wallet"]
        if s.dcp_window_seconds:
            private.append("dcp")
        self.streams.append(
            BybitStream(
                "private",
                e.endpoints.private_ws_url.rstrip("/") + "/v5/private",
                private,
                dispatcher.private,
                on_connected=self._on_private_connected,
                on_disconnected=self.report_now.set,
                credentials=(s.api_key.get_secret_value(), s.api_secret.get_secret_value()),
            )
        )
        for stream in self.streams:
            stream.on_reconnect = lambda name: self.metrics.reconnects.labels(name).inc()
            self.spawn(stream.run())

    async def _wait_streams(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(st.up.wait() for st in self.streams)), timeout=STREAM_WAIT_S
            )

    async def _on_public_connected(self, gap: bool) -> None:
        if gap:
            self.spawn(self._warm_up())

    def _public_dropped(self, category: Category) -> Callable[[], None]:
        def dropped() -> None:  # the books are unknown until the resubscription's snapshots
            if self.feed is not None:
                self.feed.invalidate(category)

        return dropped

    async def _resubscribe(self, category: Category, topic: str) -> None:
        for stream in self.streams:
            if stream.name == f"public-{category.value}":
                await stream.resubscribe(topic)

    async def _timer_loop(self, spec: TimerSpec) -> None:
        """`on_timer` every `spec.period_ms` of wall time, on the period's grid (a late wake-up
        delivers once, at its due time, never a burst of missed ones)."""
        while True:
            due = timer_due(spec.period_ms, time.time_ns() // 1_000_000)
            await asyncio.sleep(max(0.0, due / 1000 - time.time()))
            self.runner.on_timer(TimerEvent(spec.name, due))

    async def _on_private_connected(self, gap: bool) -> None:
        self.report_now.set()
        if gap or self.reconciled:
            self.spawn(self.resync("stream gap"))

    async def resync(self, why: str) -> None:
        """REST resync: orders, fills, positions and wallet, as after a start."""
        try:
            result = await self.reconciler.run(at_start=False)
        except VenueError as error:
            self.errors.set(ErrorSource.RESYNC, f"after {why}: {error}")
            return
        self.errors.clear(ErrorSource.RESYNC)
        if result.discrepancies:  # else what the status says is still so
            log.info("resync after %s", why, extra={"discrepancies": len(result.discrepancies)})
            self.report_now.set()

    async def _save_strategy(self) -> None:
        state = strategy_checkpoint.dump(self.strategy)
        if state is not None:
            await self.store.save_strategy(self.strategy.name, self.strategy.api_version, state)

    # events -----------------------------------------------------------------------------
    def _on_fill(self) -> None:
        self.equity.on_balance_change()
        if not self.governor.reports_held:  # a halt's closes: in its own report
            self.report_now.set()

    def _reporter(self) -> Reporter:
        strategy = self.strategy
        return Reporter(
            interval_s=self.config.settings.report_interval_seconds,
            report_now=self.report_now,
            governor=self.governor,
            manager=self.manager,
            portfolio=self.portfolio,
            instruments=self.instruments,
            errors=self.errors,
            metrics=self.metrics,
            store=self.store,
            kube=self.kube,
            read_wallet=self.equity.read_wallet,
            venue_connected=lambda: self.venue_connected,
            emergency_stop=lambda: self.emergency_stop,
            paused=lambda: paused_reason(strategy),
            publish_equity=self.cache.equity,
            spawn=self.spawn,
            redact=Redactor(self._secrets()),
        )

    def _secrets(self) -> list[str]:
        s = self.config.settings
        return [s.api_key.get_secret_value(), s.api_secret.get_secret_value()]

    # loops ------------------------------------------------------------------------------
    async def _governance_loop(self) -> None:
        hands = Obedience(
            governor=self.governor,
            flattener=self.flattener,
            cancel_all=self.manager.cancel_all,
            resync=self.resync,
            save_checkpoint=self.reporter.save_checkpoint,
            governance_event=self.store.governance_event,
            publish_event=self.cache.event,
            errors=self.errors,
            report_now=self.report_now,
            spawn=self.spawn,
        )
        while True:
            await self.governor.wake.wait()
            self.governor.wake.clear()
            await obey(hands)

    async def _housekeeping_loop(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(1.0)
            tick += 1
            self.probes.beat = time.monotonic()
            await self.cache.flush_tickers()
            if self.manager.unresolved and tick % 2 == 0:
                await self.resync("unresolved orders")

    # stop -------------------------------------------------------------------------------
    async def report_start_error(self, message: str) -> None:
        """Tell the Engine why this runtime could not start (status.runtime.startError), when
        the API server can be reached; the operator shows it (phase Failed, RuntimeFailed)."""
        s = self.config.settings
        if not s.kubernetes:
            return
        client = None
        try:
            client = self.kube or EngineClient.from_environment(s.engine_namespace, s.engine_name)
            await asyncio.wait_for(client.patch_status(start_error_patch(message, utcnow())), 10)
        except Exception as error:  # the process exits anyway; the log says why
            log.warning("start error not reported to the Engine: %s", error)
        finally:
            if client is not None:
                await _bounded(client.close(), "kubernetes client")

    async def abort(self) -> None:
        """After a failed start: release what the start opened."""
        for watcher in self.watchers:
            watcher.stop()
        for task in list(self.tasks):
            task.cancel()
        for name in ("cache", "store"):
            opened = getattr(self, name, None)
            if opened is not None:
                await _bounded(opened.close(), name)
        await _bounded(self.http.stop(), "http endpoints")

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)

    def _observe_engine(self, engine: dict[str, Any]) -> None:
        """Every version of our Engine the watch delivers: the directive, and our allocation."""
        self.governor.observe(engine)
        weight = ((engine.get("status") or {}).get("allocation") or {}).get("targetWeight")
        if weight is not None:
            self.metrics.allocation.set(float(weight))

    async def stop(self) -> None:
        """Graceful: no new orders, cancel (or leave) resting orders, flush state, last report."""
        log.info("stopping")
        self.runner.enabled = False
        self.governor.terminating = True  # refuse anything still in the pipeline
        if self.config.settings.cancel_on_shutdown and self.reconciled:
            with contextlib.suppress(VenueError):
                await self.manager.cancel_all()
        await self.manager.drain(5.0)
        if self.reconciled:
            with contextlib.suppress(VenueError):
                await self.reconciler.run(at_start=False)
            await self.reporter.report_once()
        for stream in self.streams:
            await _bounded(stream.stop(), "stream stop")
        for watcher in self.watchers:
            watcher.stop()
        await _cancel(self.tasks)
        await _bounded(self.reporter.save_checkpoint(), "checkpoint")
        if self.kube is not None:
            await _bounded(self.kube.close(), "kubernetes client")
        await _bounded(self.transport.close(), "venue session")
        await _bounded(self.cache.close(), "redis")
        await _bounded(self.store.close(), "postgresql")
        await _bounded(self.http.stop(), "http endpoints")
        log.info("stopped")


async def _cancel(tasks: set[asyncio.Task[Any]], seconds: float = 5.0) -> None:
    """Cancel the background tasks and wait for them; those still running after `seconds` are
    named, with where each is waiting, and left."""
    running = list(tasks)
    for task in running:
        task.cancel()
    if not running:
        return
    _, stuck = await asyncio.wait(running, timeout=seconds)
    if stuck:
        log.warning(
            "shutdown: background tasks did not finish in %.0f s; going on: %s",
            seconds,
            "; ".join(sorted(_waiting_in(t) for t in stuck)),
        )


def _waiting_in(task: asyncio.Task[Any]) -> str:
    """The task's coroutine and, innermost last, the awaits it is suspended in."""
    chain: list[str] = []
    step: Any = task.get_coro()
    while step is not None and len(chain) < 12:
        code = getattr(step, "cr_code", None) or getattr(step, "ag_code", None)
        chain.append(code.co_qualname if code is not None else type(step).__name__)
        step = getattr(step, "cr_await", None) or getattr(step, "ag_await", None)
    return " > ".join(chain) or repr(task)


async def _bounded(step: Awaitable[Any], what: str, seconds: float = 5.0) -> None:
    """One shutdown step, given up after `seconds`: a stop must end before the pod's grace."""
    try:
        await asyncio.wait_for(step, timeout=seconds)
    except TimeoutError:
        log.warning("shutdown: %s did not finish in %.0f s; going on", what, seconds)


def utcnow() -> datetime:
    return datetime.now(UTC)
