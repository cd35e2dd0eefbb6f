"""Level-based reconciliation of one Engine: from whatever state the world is in, to the spec.

`reconcile` runs on create, update, resume and every resync; `finalize` runs on deletion. Both
are idempotent, compare before they write, and report through an `Outcome` that the kopf
handlers turn into a status patch, Events and a retry; they raise nothing kopf-specific.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pydantic import ValidationError

from eternal_kernel.api.v1alpha1 import GROUP, Engine, Phase, Venue, names
from eternal_kernel.api.v1alpha1.engine import (
    EngineStatus,
    GovernanceDirective,
    OnDelete,
    ShutdownReason,
    ShutdownRequest,
)
from eternal_kernel.api.v1alpha1.engine_conditions import EngineReason as R
from eternal_kernel.bybit.flatten import FlattenResult
from eternal_operator.kube import KubeClient, KubeError
from eternal_operator.settings import OperatorSettings

from . import claims, credentials, managed_fields, render, shutdown, watched
from .accounts import Accounts
from .diff import is_subset
from .failures import ApplyRefused
from .status import FOLLOWS_STATUS, SHOWN, Observed, Problem, conditions_of, phase_of

SKIP_CANCEL_ANNOTATION = f"{GROUP}/skip-cancel-on-delete"


class VenueActions(Protocol):
    """What the operator does on the venue itself when no runtime can."""

    async def subaccount(self, engine: Engine) -> str:
        """The UID of the Engine's paper-venue subaccount, created if missing (simulator)."""

    async def mint_key(self, engine: Engine, uid: str) -> credentials.ApiKeys:
        """A new API key of that subaccount on the paper venue (simulator only)."""

    async def cancel_all(
        self,
        engine: Engine,
        ref: render.EngineRef,
        keys: credentials.ApiKeys,
        *,
        flatten: bool,
        request_id: str,
    ) -> str:
        """Cancel every open order (and close every position if `flatten`); a summary."""

    async def flatten(
        self, engine: Engine, ref: render.EngineRef, keys: credentials.ApiKeys, *, purpose: str
    ) -> FlattenResult:
        """Make the whole account flat for `purpose` (nothing is sent if it already is)."""

    async def equity(
        self, engine: Engine, ref: render.EngineRef, keys: credentials.ApiKeys
    ) -> Decimal:
        """The account's total equity in USDT, as the venue's wallet says it now."""

    async def member_ids(
        self, rest_url: str, master: credentials.ApiKeys, subaccounts: list[str]
    ) -> dict[str, int]:
        """UIDs of the master ('master') and of the subaccounts, with the master's key."""

    async def transfer(
        self,
        rest_url: str,
        master: credentials.ApiKeys,
        transfer_id: str,
        amount: str,
        source: int,
        target: int,
    ) -> str:
        """An idempotent universal transfer of USDT; the venue's status of it."""


@dataclass
class Context:
    kube: KubeClient
    settings: OperatorSettings
    venue: VenueActions
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    minted: dict[str, credentials.ApiKeys] = field(default_factory=dict)
    """Keys minted on the venue and not stored yet, by Engine uid: a retry stores these instead
    of minting another."""
    accounts: Accounts = field(default_factory=Accounts)
    """Each Engine's confirmed claim and keys, for the operator's own venue calls; every
    reconcile keeps what it finds."""


@dataclass
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str
    once: str | None = None
    """Post only if the last Event of this reason for this Engine had another `once`: a timer
    pass and a change pass may both see the status from before either wrote it."""


@dataclass
class Outcome:
    status: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    retry_after: float | None = None
    """Set when something is under way (a handshake, a failed venue call): run again soon."""
    retry_reason: str = ""
    changed: list[str] = field(default_factory=list)
    """Kinds of the objects written this pass (empty when nothing differed)."""


def _ref(body: Mapping[str, Any]) -> render.EngineRef:
    meta = body["metadata"]
    return render.EngineRef(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


def _parse(body: Mapping[str, Any]) -> tuple[Engine | None, EngineStatus, Problem | None]:
    status = EngineStatus.model_validate(body.get("status") or {})
    # Refused by the CRD since it states the rule; an Engine created before that cannot run.
    if problem := names.engine_name_problem(str(body["metadata"].get("name") or "")):
        return None, status, Problem(R.INVALID_SPEC, problem)
    try:
        engine = Engine.model_validate(
            {"metadata": {}, "spec": body.get("spec") or {}, "status": None}
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, status, Problem(R.INVALID_SPEC, f"invalid spec at {where}: {first['msg']}")
    return engine, status, None


def secret_ref(engine: Engine, ref: render.EngineRef) -> credentials.SecretRef:
    name, key_key, secret_key = render.credentials_ref(engine, ref)
    return credentials.SecretRef(ref.namespace, name, key_key, secret_key)


def subaccount_of(engine: Engine) -> claims.Subaccount:
    return claims.Subaccount(engine.spec.venue.value, engine.spec.subaccount)


async def _keys(
    ctx: Context, engine: Engine, ref: render.EngineRef, out: Outcome
) -> credentials.ApiKeys | Problem:
    """The Engine's keys as `_claimed_keys` finds them, kept for the operator's own venue calls
    (or forgotten, when it finds none it may use)."""
    keys = await _claimed_keys(ctx, engine, ref, out)
    if isinstance(keys, Problem):
        ctx.accounts.forget(ref.uid)
    else:
        ctx.accounts.keep(ref.uid, subaccount_of(engine), secret_ref(engine, ref), keys)
    return keys


async def _claimed_keys(
    ctx: Context, engine: Engine, ref: render.EngineRef, out: Outcome
) -> credentials.ApiKeys | Problem:
    """Claim the subaccount, then load the keys; for a simulator Engine without credentials,
    provision them once (a key is stored before it is used, and reused if storing failed)."""
    operator_ns = ctx.settings.pod_namespace
    refused = await claims.claim(ctx.kube, operator_ns, subaccount_of(engine), ref)
    if refused is not None:
        return refused
    stored_in = secret_ref(engine, ref)
    loaded = await credentials.load(ctx.kube, stored_in)
    provisionable = engine.spec.venue is Venue.SIMULATOR and engine.spec.credentials is None
    if not (isinstance(loaded, Problem) and loaded.reason is R.SECRET_NOT_FOUND and provisionable):
        return loaded
    keys = ctx.minted.get(ref.uid)
    if keys is None:
        try:
            uid = await ctx.venue.subaccount(engine)
            # The same account by its UID: an Engine naming the UID may already hold it.
            if uid != engine.spec.subaccount:
                by_uid = claims.Subaccount(engine.spec.venue.value, uid)
                refused = await claims.claim(ctx.kube, operator_ns, by_uid, ref)
                if refused is not None:
                    return refused
            keys = await ctx.venue.mint_key(engine, uid)
        except Exception as error:  # the venue's errors are mapped to a condition, not a crash
            out.retry_after, out.retry_reason = 10.0, "provisioning simulator credentials"
            return Problem(
                R.PROVISIONING_FAILED, f"cannot provision keys on the paper venue: {error}"
            )
        ctx.minted[ref.uid] = keys
    meta = render.object_meta(stored_in.name, ref)
    await ctx.kube.apply(credentials.secret_manifest(stored_in, keys, meta))
    ctx.minted.pop(ref.uid, None)
    out.events.append(
        Event("Normal", "CredentialsProvisioned", f"paper-venue API key stored in {stored_in}")
    )
    return keys


async def _ensure(
    ctx: Context, desired: dict[str, Any], out: Outcome, live: dict[str, Any] | None
) -> dict[str, Any]:
    """Apply `desired` unless the live object (None: there is none) already is it."""
    meta = desired["metadata"]
    if live is not None and is_subset(desired, live):
        return live
    out.changed.append(desired["kind"])
    try:
        return await ctx.kube.apply(desired)
    except KubeError as error:
        raise ApplyRefused(desired["kind"], meta["namespace"], meta["name"], error) from error


async def _live(
    ctx: Context, seen: watched.Watched | None, kind: str, namespace: str, name: str
) -> dict[str, Any] | None:
    """The object as the watch saw it (None: not seen, to be applied), or, without the
    watch's view (`seen` None), as a read finds it."""
    if seen is not None:
        return watched.live(seen, kind, namespace, name)
    api_version = watched.KINDS[kind][0]
    return await ctx.kube.get_or_none(api_version, kind, namespace, name)


async def _operator_cancel(
    ctx: Context,
    engine: Engine,
    ref: render.EngineRef,
    request: ShutdownRequest,
    observed: Observed,
    out: Outcome,
    once: str,
) -> bool:
    keys = await _keys(ctx, engine, ref, out)
    if isinstance(keys, Problem):
        reported = observed.runtime is not None and observed.runtime.heartbeat is not None
        if observed.deployment is None and not reported:
            # No runtime Deployment, and no runtime ever reported: none of it ever traded.
            why = f"{keys.message}; no runtime of this Engine ever ran, so nothing to cancel"
            out.events.append(Event("Normal", "NothingToCancel", why, once=once))
            return True
        out.events.append(Event("Warning", "CancelFailed", keys.message))
        out.retry_after, out.retry_reason = 10.0, keys.message
        return False
    request_id = f"{ref.uid[:8]}-{int(request.requested_at.timestamp())}"
    try:
        summary = await ctx.venue.cancel_all(
            engine, ref, keys, flatten=request.flatten, request_id=request_id
        )
    except credentials.UnknownKey as error:
        message = (
            f"the venue does not know the engine's API key ({error}): nothing was placed with "
            "it, so nothing of it can rest there; going on without cancelling"
        )
        out.events.append(Event("Warning", "KeyUnknownToVenue", message, once=once))
        return True
    except Exception as error:  # venue errors become a Warning Event and a retry
        message = f"cannot cancel orders through the venue ({error}); retrying"
        out.events.append(Event("Warning", "CancelFailed", message))
        out.retry_after, out.retry_reason = 10.0, message
        return False
    what = "cancelled orders and flattened" if request.flatten else "cancelled orders"
    out.events.append(
        Event("Normal", "OperatorCancelled", f"the operator {what}: {summary}", once=once)
    )
    return True


async def _shutdown(
    ctx: Context,
    engine: Engine,
    ref: render.EngineRef,
    status: EngineStatus,
    observed: Observed,
    reason: ShutdownReason,
    flatten: bool,
    out: Outcome,
) -> ShutdownRequest:
    now = observed.now
    decision = shutdown.decide(
        request=status.shutdown,
        reason=reason,
        flatten=flatten,
        runtime=status.runtime,
        runtime_alive=observed.runtime_alive,
        now=now,
        deadline=timedelta(seconds=ctx.settings.delete_deadline_seconds),
    )
    request = decision.request
    # One shutdown per reason and spec generation: its Events are posted once even when two
    # passes both see the status from before the request.
    once = f"{reason.value}/{observed.generation}"
    if status.shutdown is None or status.shutdown.requested_at != request.requested_at:
        what = "cancel its orders and flatten" if flatten else "cancel its orders"
        out.events.append(
            Event("Normal", f"{reason.value}Requested", f"asked the runtime to {what}", once=once)
        )
    if decision.step is shutdown.Step.WAIT:
        out.retry_after, out.retry_reason = 2.0, decision.why
    elif decision.step is shutdown.Step.OPERATOR_CANCEL:
        out.events.append(Event("Normal", "OperatorCancelling", decision.why, once=once))
        if await _operator_cancel(ctx, engine, ref, request, observed, out, once):
            request = shutdown.completed_by_operator(request, now)
    elif status.shutdown is None or status.shutdown.completed_at is None:
        out.events.append(Event("Normal", "RuntimeCancelled", decision.why, once=once))
    out.status["shutdown"] = request.model_dump(mode="json", by_alias=True, exclude_none=True)
    return request


async def reconcile(
    ctx: Context, body: Mapping[str, Any], seen: watched.Watched | None = None
) -> Outcome:
    """Bring the Engine's objects to its spec and report what is observed. Its objects are
    compared as the watch saw them (`seen`), else as read; its Deployment is always read:
    whether its runtime is up decides who cancels on a suspend, not a view a moment old."""
    out = Outcome()
    if ctx.settings.reset_engine_managed_fields:
        await managed_fields.drop_if_unused(ctx.kube, body)  # before its first status write
    ref = _ref(body)
    engine, status, problem = _parse(body)
    base = _observed(ctx, body, status, governance=status.governance)
    if engine is not None and engine.spec.venue is Venue.MAINNET and not ctx.settings.allow_mainnet:
        problem = Problem(
            R.MAINNET_NOT_ALLOWED,
            "mainnet trades real money and this operator runs with allowMainnet=false "
            "(set EE_OPERATOR_ALLOW_MAINNET=true to allow it)",
        )
    keys = None if problem or engine is None else await _keys(ctx, engine, ref, out)
    if isinstance(keys, Problem):
        problem = keys
    if problem is not None or engine is None:
        if engine is not None and engine.spec.suspend:  # an Engine that cannot run still stops
            base = await _suspend_despite(ctx, engine, ref, status, base, out)
        return _report(out, base, status, problem=problem)

    deployment_name = render.RuntimeNames.of(ref.name).deployment
    live = await ctx.kube.get_or_none("apps/v1", "Deployment", ref.namespace, deployment_name)
    observed = _with(base, deployment=live)
    replicas = _replicas(status)
    if engine.spec.suspend:
        request = await _shutdown(
            ctx, engine, ref, status, observed, ShutdownReason.SUSPEND, False, out
        )
        suspended = request.completed_at is not None
        replicas = 0 if suspended else (live or {}).get("spec", {}).get("replicas", 0)
        observed = _with(observed, suspended=suspended, suspending=not suspended)
    elif status.shutdown is not None:
        out.status["shutdown"] = None
        if status.shutdown.reason is ShutdownReason.SUSPEND:
            out.events.append(
                Event(
                    "Normal", "Resumed", "spec.suspend is false: scaling to 1",
                    once=f"Resume/{base.generation}",
                )
            )  # fmt: skip

    secret_name = render.credentials_ref(engine, ref)[0]
    out.status["credentialsSecret"] = secret_name
    model = await _model(ctx, engine, ref)
    for desired in render.render_all(engine, ref, ctx.settings, replicas=replicas, model=model):
        if desired["kind"] == "Deployment":
            observed = _with(observed, deployment=await _ensure(ctx, desired, out, live))
        else:
            meta = desired["metadata"]
            here = await _live(ctx, seen, desired["kind"], meta["namespace"], meta["name"])
            await _ensure(ctx, desired, out, here)
    return _report(out, observed, status, problem=None)


async def _model(ctx: Context, engine: Engine, ref: render.EngineRef) -> dict[str, Any] | None:
    """The Engine's model ConfigMap as it is now (its content's hash restarts the runtime)."""
    name = render.model_config_map(engine)
    if name is None:
        return None
    return await ctx.kube.get_or_none("v1", "ConfigMap", ref.namespace, name)


async def refresh_phase(ctx: Context, body: Mapping[str, Any], seen: watched.Watched) -> Outcome:
    """The phase and conditions after a change in the Engine's own status (governance's record,
    the runtime's report), from that status and its Deployment as the watch saw it (`seen`): no
    read, not a whole reconcile, for each engine of a fleet that halts or resumes together.
    Anything the phase alone cannot settle (a problem, a suspend or shutdown, a Deployment not
    seen, another Engine's, or with replicas to change) gets the whole reconcile."""
    engine, status, problem = _parse(body)
    if (
        engine is None
        or problem
        or engine.spec.suspend
        or status.shutdown
        or (status.phase not in FOLLOWS_STATUS)
    ):
        return await reconcile(ctx, body, seen)
    ref = _ref(body)
    deployment_name = render.RuntimeNames.of(ref.name).deployment
    live = watched.lookup(seen.get("Deployment") or {}, ref.namespace, deployment_name)
    if live is None or live.owner != ref.uid or live.replicas != _replicas(status):
        return await reconcile(ctx, body, seen)
    deployment = {"spec": {"replicas": live.replicas}}
    observed = _observed(ctx, body, status, deployment=deployment, governance=status.governance)
    return _report(Outcome(), observed, status, problem=None)


def shown_with_record(ctx: Context, body: Mapping[str, Any], record: Mapping[str, Any]) -> Outcome:
    """What of the phase and conditions changes once `record` is the Engine's governance
    record, for governance to write with the record: a fleet halting or resuming together costs
    one status write per engine, not the record and then the phase pass's. Only where
    `refresh_phase` would decide them from the Engine's own status and a Deployment it found
    scaled up (neither the record in force nor this one stops the runtime); otherwise an empty
    Outcome, and the phase pass that follows the record decides. That pass also puts right
    anything written here from a stale view of the Engine."""
    engine, status, problem = _parse(body)
    if (
        engine is None
        or problem
        or engine.spec.suspend
        or status.shutdown
        or (status.phase not in FOLLOWS_STATUS)
        or _replicas(status) == 0
        or (record.get("halt") and record.get("runtimeStopped"))
    ):
        return Outcome()
    governance = GovernanceDirective.model_validate(record)
    scaled_up = {"spec": {"replicas": 1}}
    observed = _observed(ctx, body, status, governance=governance, deployment=scaled_up)
    out = _report(Outcome(), observed, status, problem=None)
    current = body.get("status") or {}
    out.status = {k: v for k, v in out.status.items() if k in SHOWN and current.get(k) != v}
    return out


async def _suspend_despite(
    ctx: Context,
    engine: Engine,
    ref: render.EngineRef,
    status: EngineStatus,
    base: Observed,
    out: Outcome,
) -> Observed:
    """Suspend an Engine that cannot run (its Secret is gone, mainnet is refused): the same
    handshake, and its Deployment, if there is one, scaled to zero once no runtime is alive to
    answer; nothing else of it is rendered until the problem is fixed."""
    deployment_name = render.RuntimeNames.of(ref.name).deployment
    live = await ctx.kube.get_or_none("apps/v1", "Deployment", ref.namespace, deployment_name)
    observed = _with(base, deployment=live)
    request = await _shutdown(
        ctx, engine, ref, status, observed, ShutdownReason.SUSPEND, False, out
    )
    suspended = request.completed_at is not None
    if live is not None and (suspended or not observed.runtime_alive):
        model = await _model(ctx, engine, ref)
        objects = render.render_all(engine, ref, ctx.settings, replicas=0, model=model)
        desired = next(o for o in objects if o["kind"] == "Deployment")
        observed = _with(observed, deployment=await _ensure(ctx, desired, out, live))
    return _with(observed, suspended=suspended, suspending=not suspended)


def _observed(ctx: Context, body: Mapping[str, Any], status: EngineStatus, **more: Any) -> Observed:
    """What is observed of the Engine now, from its own status (and `more`)."""
    return Observed(
        now=ctx.clock(),
        generation=int(body["metadata"].get("generation") or 0),
        heartbeat_timeout=timedelta(seconds=ctx.settings.heartbeat_timeout_seconds),
        runtime=status.runtime,
        **more,
    )


def _replicas(status: EngineStatus) -> int:
    """The runtime's replicas: none once the operator stopped it for a halt, else one."""
    governance = status.governance
    return 0 if governance is not None and governance.halt and governance.runtime_stopped else 1


def _with(o: Observed, **changes: Any) -> Observed:
    return Observed(**{**o.__dict__, **changes})


def _report(out: Outcome, o: Observed, status: EngineStatus, *, problem: Problem | None) -> Outcome:
    o = _with(o, problem=problem)
    phase = phase_of(o)
    conditions = conditions_of(o, phase, list(status.conditions))
    out.status.update(
        {
            "phase": phase.value,
            "observedGeneration": o.generation,
            "conditions": [c.model_dump(mode="json", by_alias=True) for c in conditions],
        }
    )
    if status.phase is not phase:
        before = status.phase.value if status.phase else "None"
        kind = "Warning" if phase in (Phase.FAILED, Phase.DEGRADED, Phase.HALTING) else "Normal"
        detail = problem.message if problem else conditions[0].message
        out.events.append(
            Event(kind, f"Phase{phase.value}", f"{before} -> {phase.value}: {detail}")
        )
    return out


async def finalize(ctx: Context, body: Mapping[str, Any]) -> Outcome:
    """Before the Engine goes: make sure no order of it is left resting on the venue."""
    out = Outcome()
    ref = _ref(body)
    engine, status, _ = _parse(body)
    annotations = body["metadata"].get("annotations") or {}
    if engine is None or annotations.get(SKIP_CANCEL_ANNOTATION) == "true":
        out.events.append(Event("Warning", "CancelSkipped", "deleted without cancelling orders"))
        return out
    if engine.spec.venue is Venue.MAINNET and not ctx.settings.allow_mainnet:
        return out  # never started here: nothing of ours can be on the venue
    account = subaccount_of(engine)
    refused = await claims.claim(ctx.kube, ctx.settings.pod_namespace, account, ref)
    if refused is not None:
        ctx.accounts.forget(ref.uid)
        # Another Engine holds the subaccount: no key of it was ever used for this one.
        out.events.append(Event("Normal", "CancelSkipped", refused.message))
        return out
    live = await ctx.kube.get_or_none(
        "apps/v1", "Deployment", ref.namespace, render.RuntimeNames.of(ref.name).deployment
    )
    observed = _observed(ctx, body, status, deployment=live)
    flatten = engine.spec.on_delete is OnDelete.FLATTEN
    request = await _shutdown(
        ctx, engine, ref, status, observed, ShutdownReason.DELETE, flatten, out
    )
    if request.completed_at is None and out.retry_after is None:
        out.retry_after, out.retry_reason = 2.0, "shutdown under way"
    elif request.completed_at is not None:
        ctx.accounts.forget(ref.uid)
        await claims.release(ctx.kube, ctx.settings.pod_namespace, ref)
    return out
