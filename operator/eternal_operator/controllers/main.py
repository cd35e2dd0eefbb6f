"""Every kopf decorator of the operator; each handler is a few lines over a domain function."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from eternal_operator.api.v1alpha1 import GROUP, VERSION
from eternal_operator.controllers.allocation import reconcile as allocation_reconcile
from eternal_operator.controllers.policy import release
from eternal_operator.controllers.policy.governor import EngineSnapshot, Governor, PolicySnapshot
from eternal_operator.metrics import OBJECT_WRITES, RECONCILE_DURATION, RECONCILE_ERRORS, RECONCILES
from eternal_operator.settings import OperatorSettings

from .engine import reconcile as engine_reconcile

ENGINES = (GROUP, VERSION, "engines")
POLICIES = (GROUP, VERSION, "circuitbreakerpolicies")
ALLOCATIONS = (GROUP, VERSION, "allocations")

log = logging.getLogger(__name__)


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
    started = time.perf_counter()
    try:
        outcome = await step(memo.ctx, body)
    except Exception:
        RECONCILE_ERRORS.labels(kind).inc()
        RECONCILES.labels(kind, "error").inc()
        raise
    finally:
        RECONCILE_DURATION.labels(kind).observe(time.perf_counter() - started)
    RECONCILES.labels(kind, "changed" if outcome.changed else "unchanged").inc()
    for written in outcome.changed:
        OBJECT_WRITES.labels(written).inc()
    current = body.get("status") or {}
    for key, value in outcome.status.items():
        if current.get(key) != value:  # compare before writing: an unchanged pass patches nothing
            patch.status[key] = value
    # A timer and a change handler may both see the same stale phase: announce a phase once.
    phase, uid = outcome.status.get("phase"), body.metadata.uid
    for event in outcome.events:
        if event.reason.startswith("Phase") and memo.phases.get(uid) == phase:
            continue
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    if phase:
        memo.phases[uid] = phase
    if retry and outcome.retry_after is not None:
        raise kopf.TemporaryError(outcome.retry_reason, delay=outcome.retry_after)


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    """Register the handlers on `registry` with the intervals from `settings`."""

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In-cluster service account, else $KUBECONFIG, as the kubernetes client resolves them.
        return kopf.login_via_client(**kwargs)

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
    async def engine_changed(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", engine_reconcile.reconcile, memo, body, patch, retry=True)

    @kopf.timer(*ENGINES, interval=settings.resync_seconds, registry=registry, id="engine-resync")
    async def engine_resync(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **indices: Any
    ) -> None:
        if body.metadata.deletion_timestamp:
            return
        policies = indices["policies_by_namespace"].get(body.metadata.namespace or "", [])
        await release.if_orphaned(memo.ctx, body, {p.name for p in policies})
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", engine_reconcile.reconcile, memo, body, patch, retry=False)

    @kopf.index(*ENGINES, registry=registry, id="engines_by_namespace")
    def engines_by_namespace(
        namespace: str | None, name: str, uid: str, labels: kopf.Labels, body: kopf.Body, **_: Any
    ) -> dict[str, EngineSnapshot]:
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
            )
        }

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

    @kopf.on.create(*ALLOCATIONS, registry=registry, id="allocation")
    @kopf.on.update(*ALLOCATIONS, registry=registry, id="allocation")
    @kopf.timer(
        *ALLOCATIONS, interval=settings.resync_seconds, registry=registry, id="allocation-resync"
    )
    async def allocation(body: kopf.Body, memo: kopf.Memo, **indices: Any) -> None:
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        engines = list(indices["engines_by_namespace"].get(namespace, []))
        started = time.perf_counter()
        async with memo.locks.get(body.metadata.uid):
            # The status as the last pass left it: the body of a handler queued behind that pass
            # predates its writes, and planning from it would plan the same round again.
            fresh = await memo.ctx.kube.get_or_none(
                f"{GROUP}/{VERSION}", "Allocation", namespace, name
            )
            if fresh is None:
                return
            try:
                result = await allocation_reconcile.reconcile(memo.ctx, fresh, engines)
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

    @kopf.on.delete(*ENGINES, registry=registry, id="engine-shutdown")
    async def engine_deleted(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", engine_reconcile.finalize, memo, body, patch, retry=True)
        memo.locks.forget(body.metadata.uid)
        memo.phases.pop(body.metadata.uid, None)
