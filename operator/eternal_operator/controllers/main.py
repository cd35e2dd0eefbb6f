"""Every kopf decorator of the operator; each handler is a few lines over a domain function."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from eternal_operator.api.v1alpha1 import GROUP, VERSION
from eternal_operator.metrics import OBJECT_WRITES, RECONCILE_DURATION, RECONCILE_ERRORS, RECONCILES
from eternal_operator.settings import OperatorSettings

from .engine import reconcile as engine_reconcile

ENGINES = (GROUP, VERSION, "engines")


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

    @kopf.on.create(*ENGINES, registry=registry)
    @kopf.on.update(*ENGINES, registry=registry)
    @kopf.on.resume(*ENGINES, registry=registry)
    async def engine_changed(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", engine_reconcile.reconcile, memo, body, patch, retry=True)

    @kopf.timer(*ENGINES, interval=settings.resync_seconds, registry=registry)
    async def engine_resync(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        if body.metadata.deletion_timestamp:
            return
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", engine_reconcile.reconcile, memo, body, patch, retry=False)

    @kopf.on.delete(*ENGINES, registry=registry)
    async def engine_deleted(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        async with memo.locks.get(body.metadata.uid):
            await _run("Engine", engine_reconcile.finalize, memo, body, patch, retry=True)
        memo.locks.forget(body.metadata.uid)
        memo.phases.pop(body.metadata.uid, None)
