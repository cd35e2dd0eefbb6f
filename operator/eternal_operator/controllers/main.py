"""Every kopf decorator of the operator; each handler is a few lines over a domain function."""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import kopf

from eternal_kernel.api.v1alpha1 import GROUP, VERSION, Phase
from eternal_operator.controllers.allocation import reconcile as allocation_reconcile
from eternal_operator.controllers.backtest import reconcile as backtest_reconcile
from eternal_operator.controllers.backtest import render as backtest_render
from eternal_operator.controllers.policy import release
from eternal_operator.controllers.policy.governor import (
    RECORDED,
    SHOWN_FROM,
    EngineSnapshot,
    Governor,
    PolicySnapshot,
)
from eternal_operator.controllers.training import reconcile as training_reconcile
from eternal_operator.controllers.training import render as training_render
from eternal_operator.login import login as kube_login
from eternal_operator.metrics import (
    OBJECT_WRITES,
    RECONCILE_DURATION,
    RECONCILE_ERRORS,
    RECONCILES,
    forget_engine,
    forget_policy,
    observe_engine,
)
from eternal_operator.settings import OperatorSettings

from .engine import failures, watched
from .engine import reconcile as engine_reconcile
from .engine import status as engine_status

ENGINES = (GROUP, VERSION, "engines")
POLICIES = (GROUP, VERSION, "circuitbreakerpolicies")
ALLOCATIONS = (GROUP, VERSION, "allocations")
TRAININGS = (GROUP, VERSION, "modeltrainings")
BACKTESTS = (GROUP, VERSION, "backtests")

log = logging.getLogger(__name__)
BACKOFF_SLACK_S = 0.25
"""A retry kopf schedules may wake this much before the backoff's own clock says go."""


def _watched(indices: Mapping[str, Any]) -> watched.Watched:
    """The Engines' objects as the watch saw them, by kind, from the indices kopf passes."""
    return {kind: indices[watched.index_id(kind)] for kind in watched.KINDS}


def _event_sink(namespace: str, policy_body: kopf.Body, engine_uids: dict[str, str]) -> Any:
    def post(kind: str, reason: str, message: str, engine: str | None) -> None:
        if engine is None:
            kopf.event(policy_body, type=kind, reason=reason, message=message)
            return
        ref: dict[str, Any] = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Engine",
            "metadata": {"name": engine, "namespace": namespace, "uid": engine_uids.get(engine)},
        }
        kopf.event(kopf.Body(ref), type=kind, reason=reason, message=message)  # type: ignore[arg-type]

    return post


async def _run(
    kind: str,
    step: Callable[
        [engine_reconcile.Context, Mapping[str, Any]], Awaitable[engine_reconcile.Outcome]
    ],
    memo: kopf.Memo,
    body: kopf.Body,
    patch: kopf.Patch,
    *,
    retry: bool,
) -> None:
    uid = body.metadata.uid or ""
    # After a failed pass (maybe the one this waited behind), the next waits out its delay,
    # unless the Engine changed since: a new spec is tried at once.
    wait = memo.backoff.remaining(uid, body.metadata.get("generation"))
    if wait > BACKOFF_SLACK_S:
        if retry:
            raise kopf.TemporaryError(f"backing off after a failed pass: {wait:.0f}s", delay=wait)
        return
    started = time.perf_counter()
    failure: failures.Failure | None = None
    # A timer's body is kopf's live view of the Engine: the watch swaps in each newer version
    # as it comes, while the pass awaits. The pass reads the version it started from throughout
    # (a shallow copy holds it: kopf swaps the whole object, it changes none in place).
    live, body = body, kopf.Body(cast(kopf.RawBody, dict(body)))
    memo.phase_inputs[uid] = engine_status.phase_inputs(body.get("status") or {})
    try:
        outcome = await step(memo.ctx, body)
    except Exception as error:  # the boundary: every failure is a condition, an Event, a retry
        RECONCILE_ERRORS.labels(kind).inc()
        RECONCILES.labels(kind, "error").inc()
        failure, outcome, delay = _failed(memo, body, error, logged_by_kopf=retry)
        # What this pass saw is not settled: the Engine's next event (its runtime's next report
        # at the latest) runs the phase pass again once the delay is out, not the next resync.
        memo.phase_inputs[uid] = None
    else:
        memo.backoff.succeeded(uid)
        RECONCILES.labels(kind, "changed" if outcome.changed else "unchanged").inc()
    finally:
        RECONCILE_DURATION.labels(kind).observe(time.perf_counter() - started)
    for written in outcome.changed:
        OBJECT_WRITES.labels(written).inc()
    if live.metadata.get("resourceVersion") != body.metadata.get("resourceVersion"):
        # The Engine moved on while the pass ran (a halt's record, a runtime's report): the
        # phase and conditions it decided are those of a version already gone (seen in a bench:
        # Running written over a halt's record, put right only by the next pass). What it did
        # and says it did stands; the phase is the newer version's own pass's to decide, which
        # its next event runs whatever it changed.
        memo.phase_inputs[uid] = None
        outcome.status = {k: v for k, v in outcome.status.items() if k not in engine_status.SHOWN}
        outcome.events = [e for e in outcome.events if not e.reason.startswith("Phase")]
    current = body.get("status") or {}
    for key, value in outcome.status.items():
        if current.get(key) != value:  # compare before writing: an unchanged pass patches nothing
            patch.status[key] = value
    # A timer and a change handler may both see the same stale phase: announce a phase once;
    # and an Event that says it happens once (a shutdown's) once per its `once`.
    phase = outcome.status.get("phase")
    announced = memo.announced.setdefault(uid, {})
    for event in outcome.events:
        if event.reason.startswith("Phase") and memo.phases.get(uid) == phase:
            continue
        if event.once is not None:
            if announced.get(event.reason) == event.once:
                continue
            announced[event.reason] = event.once
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    if phase:
        memo.phases[uid] = phase
    if failure is not None:
        if retry:  # kopf logs it in one line and runs the handler again after the delay
            raise kopf.TemporaryError(f"{failure.message}; next attempt in {delay:.0f}s", delay)
        return  # the timer: its next passes wait out the backoff
    if retry and outcome.retry_after is not None:
        raise kopf.TemporaryError(outcome.retry_reason, delay=outcome.retry_after)


def _failed(
    memo: kopf.Memo, body: kopf.Body, error: Exception, *, logged_by_kopf: bool
) -> tuple[failures.Failure, engine_reconcile.Outcome, float]:
    """A failed pass: its status (Ready False, typed), a Warning Event, one log line (kopf's,
    for a change handler; a traceback only for the first of an unexpected kind) and the delay."""
    uid, meta = body.metadata.uid or "", body.metadata
    failure = failures.classify(error)
    delay = memo.backoff.failed(uid, body.metadata.get("generation"))
    where = f"Engine {meta.namespace}/{meta.name}"
    if not failure.expected and memo.backoff.failures(uid) == 1:
        log.error("%s: %s; next attempt in %.0fs", where, failure.message, delay, exc_info=error)
    elif not logged_by_kopf:
        log.warning("%s: %s; next attempt in %.0fs", where, failure.message, delay)
    now = memo.ctx.clock()
    outcome = engine_reconcile.Outcome(status=failures.status_of(body, failure, now, delay))
    message = f"{failure.message}; next attempt in {delay:.0f}s"
    outcome.events.append(engine_reconcile.Event("Warning", "ReconcileFailed", message))
    before = (body.get("status") or {}).get("phase")
    if failure.blocking and before != Phase.FAILED.value:
        detail = f"{before or 'None'} -> {Phase.FAILED.value}: {failure.message}"
        outcome.events.append(engine_reconcile.Event("Warning", "PhaseFailed", detail))
    return failure, outcome, delay


async def _train(memo: kopf.Memo, namespace: str, name: str) -> None:
    """One pass over the ModelTraining as it is now: its status merge-patched where it changed,
    its Events posted."""
    await _job_pass(memo, "ModelTraining", namespace, name, training_reconcile.reconcile)


async def _backtest(memo: kopf.Memo, namespace: str, name: str) -> None:
    """One pass over the Backtest as it is now (as `_train`)."""
    await _job_pass(memo, "Backtest", namespace, name, backtest_reconcile.reconcile)


async def _job_pass(
    memo: kopf.Memo, kind: str, namespace: str, name: str,
    reconcile: Callable[[Any, Mapping[str, Any]], Awaitable[Any]],
) -> None:  # fmt: skip
    """One pass over a resource run by a Job: its status merge-patched where it changed, its
    Events posted."""
    kube = memo.ctx.kube
    started = time.perf_counter()
    fresh = await kube.get_or_none(f"{GROUP}/{VERSION}", kind, namespace, name)
    if fresh is None or fresh["metadata"].get("deletionTimestamp"):
        return
    async with memo.locks.get(fresh["metadata"]["uid"]):
        try:
            result = await reconcile(memo.ctx, fresh)
            current = fresh.get("status") or {}
            changed = {k: v for k, v in result.status.items() if current.get(k) != v}
            if changed:
                await kube.merge_patch(
                    f"{GROUP}/{VERSION}", kind, namespace, name, {"status": changed},
                    subresource="status",
                )  # fmt: skip
        except Exception:
            RECONCILE_ERRORS.labels(kind).inc()
            raise
        finally:
            RECONCILE_DURATION.labels(kind).observe(time.perf_counter() - started)
    RECONCILES.labels(kind, "changed" if changed else "unchanged").inc()
    for event in result.events:
        kopf.event(kopf.Body(fresh), type=event.type, reason=event.reason, message=event.message)


def _phase_inputs_changed(body: kopf.Body, memo: kopf.Memo, type: str | None, **_: Any) -> bool:
    """Filters the Engine events `engine-phase` handles (the filter, unlike a handler, neither
    runs nor logs for each of a runtime's heartbeats): those where what the phase is made of
    differs from what the last reconcile of the Engine saw, or where the phase contradicts the
    Engine's own halt record and report. An Engine never reconciled yet is the create or resume
    handler's."""
    uid = body.metadata.uid or ""
    if type == "DELETED" or body.metadata.deletion_timestamp or uid not in memo.phase_inputs:
        return False
    if memo.backoff.remaining(uid, body.metadata.get("generation")) > BACKOFF_SLACK_S:
        return False  # after a failed pass, its delay first: the pass would only return
    status = body.get("status") or {}
    return bool(
        memo.phase_inputs[uid] != engine_status.phase_inputs(status)
        or engine_status.phase_contradicts_record(status)
    )


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    """Register the handlers on `registry` with the intervals from `settings`."""

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        # The kernel's kubeconfig (the operator's own client's): kopf calls this again on a 401
        # or once the exec credential's expiration passes, so rotated credentials are re-read.
        return kube_login()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Progress and diff-base in annotations: status belongs to our schema, which prunes
        # anything else (kopf's default would write status.kopf and loop on the pruning).
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
        settings.persistence.finalizer = f"{GROUP}/runtime-shutdown"
        settings.posting.level = 20  # INFO and up become Events only when we post them
        settings.watching.server_timeout = 300
        settings.networking.error_backoffs = [1, 2, 5, 10]

    @kopf.on.create(*ENGINES, registry=registry, id="engine")
    @kopf.on.update(*ENGINES, registry=registry, id="engine")
    @kopf.on.resume(*ENGINES, registry=registry, id="engine")
    async def engine_changed(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **indices: Any
    ) -> None:
        reconcile = functools.partial(engine_reconcile.reconcile, seen=_watched(indices))
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", reconcile, memo, body, patch, retry=True)

    @kopf.on.event(*ENGINES, registry=registry, id="engine-phase", when=_phase_inputs_changed)
    async def engine_status_changed(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo,
                                    **indices: Any) -> None:  # fmt: skip
        # A halt, a runtime's flat report or a resume shows in the phase at once, not at the
        # next resync: a change in what the phase is made of runs the reconcile now.
        refresh = functools.partial(engine_reconcile.refresh_phase, seen=_watched(indices))
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", refresh, memo, body, patch, retry=False)

    @kopf.timer(*ENGINES, interval=settings.resync_seconds, registry=registry, id="engine-resync")
    async def engine_resync(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **indices: Any
    ) -> None:
        if body.metadata.deletion_timestamp:
            return
        policies = indices["policies_by_namespace"].get(body.metadata.namespace or "", [])
        await release.if_orphaned(memo.ctx, body, {p.name for p in policies})
        reconcile = functools.partial(engine_reconcile.reconcile, seen=_watched(indices))
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", reconcile, memo, body, patch, retry=False)

    @kopf.index(*ENGINES, registry=registry, id="engines_by_namespace")
    def engines_by_namespace(
        namespace: str | None, name: str, uid: str, labels: kopf.Labels, body: kopf.Body, **_: Any
    ) -> dict[str, EngineSnapshot]:
        # Every Engine event comes through here (a runtime's heartbeats too), without a
        # handler's logging: the per-Engine heartbeat series follows the status.
        observe_engine(namespace or "", name, body)
        status = body.get("status") or {}
        return {
            namespace or "": EngineSnapshot(
                name=name,
                labels=dict(labels),
                spec=copy.deepcopy(dict(body.get("spec") or {})),
                runtime=copy.deepcopy(status.get("runtime")),
                governance=copy.deepcopy(status.get("governance")),
                uid=uid,
                allocation=copy.deepcopy(status.get("allocation")),
                status={k: copy.deepcopy(status[k]) for k in SHOWN_FROM if k in status},
                generation=int(body.metadata.get("generation") or 0),
            )
        }

    def runtime_object(
        namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> dict[tuple[str, str], watched.Seen]:
        return watched.seen(namespace or "", name, body)

    for kind, (api_version, plural) in watched.KINDS.items():
        kopf.index(api_version, plural, registry=registry, id=watched.index_id(kind),
                   labels=watched.RUNTIME_LABELS)(runtime_object)  # fmt: skip

    @kopf.index(*POLICIES, registry=registry, id="policies_by_namespace")
    def policies_by_namespace(
        namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> dict[str, PolicySnapshot]:
        status = body.get("status") or {}
        return {
            namespace or "": PolicySnapshot(
                name=name,
                selector=copy.deepcopy(dict((body.get("spec") or {}).get("selector") or {})),
                halted=bool(status.get("halted")),
                halted_engines=list(status.get("haltedEngines") or []),
                directive=copy.deepcopy(status.get("directive")),
                recorded=status.get(RECORDED),
                emergency=bool((body.get("spec") or {}).get("emergencyHalt")),
            )
        }

    @kopf.index(*ALLOCATIONS, registry=registry, id="transfers_by_namespace")
    def transfers_by_namespace(
        namespace: str | None, body: kopf.Body, **_: Any
    ) -> dict[str, list[Any]]:
        return {namespace or "": copy.deepcopy((body.get("status") or {}).get("transfers") or [])}

    @kopf.on.event(*POLICIES, registry=registry, id="governance-wake")
    async def policy_event(
        body: kopf.Body, memo: kopf.Memo, type: str | None, **indices: Any
    ) -> None:
        # A patched spec (an emergency halt) or a reset annotation is evaluated at once, not on
        # the next tick; the loop's own status writes change neither and wake nothing.
        meta = body.metadata
        if type == "DELETED":
            memo.wakeups.forget(meta.uid or "")
            forget_policy(meta.namespace or "", meta.name or "")
            engines = indices["engines_by_namespace"].get(meta.namespace or "", [])
            await release.deleted_policy(memo.ctx, meta.namespace or "", meta.name or "", engines)
        else:
            memo.wakeups.observe(meta.uid or "", (meta.get("generation"), dict(meta.annotations)))

    @kopf.daemon(*POLICIES, registry=registry, id="governance", cancellation_timeout=10)
    async def governance(
        stopped: kopf.DaemonStopped,
        body: kopf.Body,
        name: str,
        namespace: str | None,
        memo: kopf.Memo,
        **indices: Any,
    ) -> None:
        # kopf passes the indices by their handler names.
        engines_by_namespace: kopf.Index[str, EngineSnapshot] = indices["engines_by_namespace"]
        transfers_by_namespace: kopf.Index[str, list[Any]] = indices["transfers_by_namespace"]
        policies_by_namespace: kopf.Index[str, PolicySnapshot] = indices["policies_by_namespace"]
        namespace = namespace or ""
        uids: dict[str, str] = {}
        uid = body.metadata.uid or ""

        async def stopping() -> None:
            await stopped.wait()
            memo.wakeups.event(uid).set()  # a stop ends the pause between ticks too

        stopper = asyncio.create_task(stopping())
        governor = Governor(
            memo.ctx, namespace, name, redis=memo.redis, store=memo.store,
            events=_event_sink(namespace, body, uids),
        )  # fmt: skip
        try:
            while not stopped:
                started = time.perf_counter()
                try:
                    engines = list(engines_by_namespace.get(namespace, []))
                    uids.update({e.name: e.uid for e in engines})
                    transfers = [t for ts in transfers_by_namespace.get(namespace, []) for t in ts]
                    peers = list(policies_by_namespace.get(namespace, []))
                    await governor.tick(body, engines, transfers, peers)
                    RECONCILES.labels("CircuitBreakerPolicy", "evaluated").inc()
                except Exception:
                    RECONCILE_ERRORS.labels("CircuitBreakerPolicy").inc()
                    log.exception("governance %s/%s: evaluation failed", namespace, name)
                finally:
                    RECONCILE_DURATION.labels("CircuitBreakerPolicy").observe(
                        time.perf_counter() - started
                    )
                await memo.wakeups.pause(uid, settings.governance_interval_seconds)
        finally:
            stopper.cancel()
            memo.wakeups.forget(uid)
            # No loop, no figures: a deleted policy (the daemon stops first) keeps no series.
            forget_policy(namespace, name)

    @kopf.on.create(*ALLOCATIONS, registry=registry, id="allocation")
    @kopf.on.update(*ALLOCATIONS, registry=registry, id="allocation")
    @kopf.timer(
        *ALLOCATIONS, interval=settings.resync_seconds, registry=registry, id="allocation-resync"
    )
    async def allocation(body: kopf.Body, memo: kopf.Memo, **indices: Any) -> None:
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        engines = list(indices["engines_by_namespace"].get(namespace, []))
        started = time.perf_counter()

        def settling() -> bool:  # the indices as they are when asked, not as the pass began
            return allocation_reconcile.governance_settling(
                indices["engines_by_namespace"].get(namespace, []),
                indices["policies_by_namespace"].get(namespace, []),
                memo.ctx.clock(),
            )

        async with memo.locks.get(body.metadata.uid):
            # The status as the last pass left it: the body of a handler queued behind that pass
            # predates its writes, and planning from it would plan the same round again.
            fresh = await memo.ctx.kube.get_or_none(
                f"{GROUP}/{VERSION}", "Allocation", namespace, name
            )
            if fresh is None:
                return
            try:
                result = await allocation_reconcile.reconcile(memo.ctx, fresh, engines, settling)
            except Exception:
                RECONCILE_ERRORS.labels("Allocation").inc()
                raise
            finally:
                RECONCILE_DURATION.labels("Allocation").observe(time.perf_counter() - started)
            current = fresh.get("status") or {}
            changed = {k: v for k, v in result.status.items() if current.get(k) != v}
            RECONCILES.labels("Allocation", "changed" if changed else "unchanged").inc()
            if changed:
                await memo.ctx.kube.merge_patch(
                    f"{GROUP}/{VERSION}", "Allocation", namespace, name, {"status": changed},
                    subresource="status",
                )  # fmt: skip
        for event in result.events:
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)

    @kopf.on.create(*TRAININGS, registry=registry, id="training")
    @kopf.on.update(*TRAININGS, registry=registry, id="training")
    @kopf.on.resume(*TRAININGS, registry=registry, id="training")
    @kopf.timer(*TRAININGS, interval=settings.resync_seconds, registry=registry,
                id="training-resync")  # fmt: skip
    async def training(name: str, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
        await _train(memo, namespace or "", name)

    @kopf.on.event("batch", "v1", "jobs", registry=registry, id="training-job",
                   labels={training_render.TRAINING_LABEL: kopf.PRESENT})  # fmt: skip
    async def training_job(
        labels: kopf.Labels, namespace: str | None, memo: kopf.Memo, type: str | None, **_: Any
    ) -> None:
        # A training Job's progress (started, completed, failed) shows in its ModelTraining at
        # once: its status is read into the ModelTraining's, no polling.
        if type != "DELETED":
            await _train(memo, namespace or "", labels[training_render.TRAINING_LABEL])

    @kopf.on.create(*BACKTESTS, registry=registry, id="backtest")
    @kopf.on.update(*BACKTESTS, registry=registry, id="backtest")
    @kopf.on.resume(*BACKTESTS, registry=registry, id="backtest")
    @kopf.timer(*BACKTESTS, interval=settings.resync_seconds, registry=registry,
                id="backtest-resync")  # fmt: skip
    async def backtest(name: str, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
        await _backtest(memo, namespace or "", name)

    @kopf.on.event("batch", "v1", "jobs", registry=registry, id="backtest-job",
                   labels={backtest_render.BACKTEST_LABEL: kopf.PRESENT})  # fmt: skip
    async def backtest_job(
        labels: kopf.Labels, namespace: str | None, memo: kopf.Memo, type: str | None, **_: Any
    ) -> None:
        # A shard finishing shows in the Backtest's progress at once (its Job's status changes).
        if type != "DELETED":
            await _backtest(memo, namespace or "", labels[backtest_render.BACKTEST_LABEL])

    @kopf.on.delete(*ENGINES, registry=registry, id="engine-shutdown")
    async def engine_deleted(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", engine_reconcile.finalize, memo, body, patch, retry=True)
        memo.locks.forget(body.metadata.uid)
        memo.phases.pop(body.metadata.uid, None)
        memo.phase_inputs.pop(body.metadata.uid, None)
        memo.announced.pop(body.metadata.uid, None)
        memo.backoff.forget(body.metadata.uid or "")
        forget_engine(body.metadata.namespace or "", body.metadata.name or "")
