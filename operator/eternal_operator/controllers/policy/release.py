"""Releasing engines from a policy that no longer exists.

A directive is lifted only by its own policy's word (the runtime's halt latch). When a policy is
deleted, the operator speaks for it one last time: the engines whose directive it wrote get a
neutral directive in its name with a higher sequence. On the policy's deletion event, and, for a
deletion the operator missed while it was down, on every engine resync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from eternal_kernel.breaker import codec
from eternal_operator.controllers.engine.reconcile import Context
from eternal_operator.kube import KubeError

from .enforce import patch_engine
from .governor import EngineSnapshot, release_patch

log = logging.getLogger(__name__)


async def _release(
    ctx: Context, namespace: str, engine: str, governance: Mapping[str, Any], why: str
) -> None:
    policy = str(governance.get("policy") or "")
    patch = release_patch(policy, int(governance.get("sequence") or 0) + 1, why)
    try:
        await patch_engine(ctx, namespace, engine, patch)
    except KubeError as error:  # the next resync tries again
        log.warning("releasing %s/%s from %s failed: %s", namespace, engine, policy, error)
        return
    log.info("released %s/%s from policy %s: %s", namespace, engine, policy, why)


async def deleted_policy(
    ctx: Context, namespace: str, policy: str, engines: Iterable[EngineSnapshot]
) -> None:
    for engine in engines:
        governance = engine.governance or {}
        if governance.get("policy") == policy and not codec.neutral(dict(governance)):
            await _release(ctx, namespace, engine.name, governance, f"policy {policy} deleted")


async def if_orphaned(ctx: Context, body: Mapping[str, Any], policies: set[str]) -> None:
    """Release an engine whose directive names a policy that is gone."""
    governance = (body.get("status") or {}).get("governance") or {}
    policy = governance.get("policy")
    if not policy or policy in policies or codec.neutral(dict(governance)):
        return
    meta = body["metadata"]
    await _release(ctx, meta["namespace"], meta["name"], governance, f"policy {policy} is gone")
