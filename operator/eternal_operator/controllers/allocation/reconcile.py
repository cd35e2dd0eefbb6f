"""One Allocation pass: accept (or refuse) the targets, publish weights, and move capital.

Transfers are planned with deterministic ids and written to status before any is executed;
a pass after a crash finds them Planned or Pending and executes the same ids again, which the
venue's idempotent transferId turns into no-ops for those already done. Exactly one set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from eternal_kernel.api.runtime_config import endpoints_for
from eternal_kernel.api.v1alpha1 import Engine, Phase
from eternal_kernel.api.v1alpha1.allocation import AllocationSpec, AllocationStatus
from eternal_operator.allocation import plan
from eternal_operator.controllers.engine import credentials
from eternal_operator.controllers.engine.reconcile import Context, Event
from eternal_operator.controllers.engine.status import phase_contradicts_record
from eternal_operator.controllers.policy.governor import EngineSnapshot, PolicySnapshot
from eternal_operator.controllers.policy.sources import parse_time

log = logging.getLogger(__name__)

API = "trading.eternal-engine.io/v1alpha1"
SHOWN_WITHIN = Decimal("0.001")
"""An Engine's `status.allocation` is rewritten when its allocation or target weight changes, or
when its current weight or target capital has moved by more than this share of what the Engine
shows: prices move every engine's figures a little at every pass, and a fleet's worth of status
writes every `EE_OPERATOR_RESYNC_SECONDS` for a display is load the API server has better use
for (a halt's records)."""
SETTLES_WITHIN = timedelta(minutes=2)
"""The longest the Engines' allocation displays wait for a directive of governance to settle
(`governance_settling`), from when it was issued: a runtime that never reports it (stopped,
or gone) holds them up no longer."""


@dataclass
class Pass:
    status: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


def _time(now: datetime) -> str:
    # Microseconds: governance compares these with when equity was measured.
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: Decimal, places: int = 6) -> str:
    text = f"{value.quantize(Decimal(1).scaleb(-places)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _equity(snapshot: EngineSnapshot) -> Decimal | None:
    try:
        value = (snapshot.runtime or {}).get("equity")
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _moves(records: list[dict[str, Any]]) -> list[plan.Moved]:
    return [
        plan.Moved((r["fromEngine"], r["toEngine"]), at)
        for r in records
        if r["state"] == "Success" and (at := parse_time(r.get("time"))) is not None
    ]


def _condition(kind: str, ok: bool, reason: str, message: str, now: datetime) -> dict[str, Any]:
    return {
        "type": kind, "status": "True" if ok else "False", "reason": reason,
        "message": message, "lastTransitionTime": _time(now),
    }  # fmt: skip


async def reconcile(
    ctx: Context, body: Mapping[str, Any], engines: list[EngineSnapshot],
    settling: Callable[[], bool],
) -> Pass:  # fmt: skip
    """One pass. `settling` says, when asked, whether governance is writing a directive to the
    Engines now (`governance_settling` on the operator's latest view): the Engines' allocation
    displays then wait for a later pass."""
    out = Pass()
    now = ctx.clock()
    meta = body["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    spec = AllocationSpec.model_validate(body.get("spec") or {})
    status = AllocationStatus.model_validate(body.get("status") or {})
    by_name = {e.name: e for e in engines}
    wanted = {t.engine: t.weight for t in spec.targets}
    accepted = {t.engine: t.weight for t in status.accepted_targets} or wanted
    levels = {n: int((e.governance or {}).get("level") or 0) for n, e in by_name.items()}
    blocked = plan.raised_while_paused(accepted, wanted, levels)
    conditions = []
    if blocked:
        targets = accepted
        message = (
            f"raising the target of {', '.join(blocked)} is refused while governance pauses "
            "its entries (level 2 or above); the previous targets stay in force"
        )
        conditions.append(_condition("Accepted", False, "BlockedByGovernance", message, now))
        out.events.append(Event("Warning", "TargetsRefused", message))
    else:
        targets = wanted
        conditions.append(_condition("Accepted", True, "Accepted", "targets in force", now))
    out.status["observedGeneration"] = int(meta.get("generation") or 0)
    out.status["acceptedTargets"] = [
        {"engine": n, "weight": float(w)} for n, w in sorted(targets.items())
    ]
    targets = plan.shares(targets)  # from here on, shares of a whole that is at most 1
    missing = sorted(n for n in targets if n not in by_name)
    equities = {n: eq for n in targets if n in by_name and (eq := _equity(by_name[n])) is not None}
    unknown = sorted(set(targets) - set(equities) - set(missing))
    weights = plan.weights(targets, equities)
    out.status["totalEquity"] = _text(weights.total, 2)
    out.status["maxDrift"] = _text(weights.max_drift, 4)
    out.status["currentWeights"] = [
        {"engine": n, "equity": _text(equities[n], 2) if n in equities else None,
         "weight": _text(weights.current[n], 4),
         "drift": _text(weights.drift.get(n, Decimal(0)), 4)}
        for n in sorted(targets)
    ]  # fmt: skip
    await _publish(ctx, namespace, name, by_name, targets, weights, settling)

    records = [
        r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in status.transfers
    ]
    open_legs = [r for r in records if r["state"] in ("Planned", "Pending")]
    if missing or unknown:
        what = f"missing engines {missing}" if missing else f"no equity reported by {unknown}"
        conditions.append(_condition("Ready", False, "EnginesNotReporting", what, now))
        out.status["conditions"] = _keep_transitions(conditions, body)
        return out
    measured = {n: parse_time((by_name[n].runtime or {}).get("heartbeat")) for n in equities}
    waiting = [] if open_legs else plan.unsettled(_moves(records), measured)
    if waiting:
        what = f"waiting for {', '.join(waiting)} to report equity measured after the last transfer"
        conditions.append(_condition("Ready", False, "AwaitingReports", what, now))
        out.status["conditions"] = _keep_transitions(conditions, body)
        return out
    if not open_legs:
        legs, round_name = _due(spec, status, uid, targets, equities, weights, meta, now)
        if legs:
            for leg in legs:
                records.append({
                    "transferId": leg.transfer_id, "fromEngine": leg.source, "toEngine": leg.target,
                    "coin": "USDT", "amount": _text(leg.amount, 2), "state": "Planned",
                    "time": _time(now),
                })  # fmt: skip
            records = records[-100:]
            if round_name.startswith("rebalance"):
                out.status["rebalanceRound"] = status.rebalance_round + 1
            else:
                out.status["contributionMonth"] = round_name.removeprefix("contribution-")
            # The plan is written before any money moves: a crash now re-executes these ids.
            await _write(ctx, namespace, name, {**out.status, "transfers": records})
            out.events.append(Event("Normal", "TransfersPlanned",
                                    f"{round_name}: {len(legs)} transfers planned"))  # fmt: skip
            open_legs = [r for r in records if r["state"] == "Planned"]
    if open_legs:
        executed = await _execute(ctx, spec, namespace, name, by_name, records, open_legs, now, out)
        if executed and all(r["state"] == "Success" for r in open_legs):
            out.status["lastRebalance"] = _time(now)
    out.status["transfers"] = records
    ready = not any(r["state"] in ("Planned", "Pending") for r in records)
    conditions.append(_condition("Ready", ready, "Balanced" if ready else "Transferring",
                                 "no transfer outstanding" if ready else "transfers outstanding",
                                 now))  # fmt: skip
    out.status["conditions"] = _keep_transitions(conditions, body)
    return out


def _keep_transitions(
    conditions: list[dict[str, Any]], body: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """A condition keeps its lastTransitionTime while its status holds."""
    before = {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}
    for condition in conditions:
        old = before.get(condition["type"])
        if old is not None and old.get("status") == condition["status"]:
            condition["lastTransitionTime"] = old["lastTransitionTime"]
    return conditions


def _due(
    spec: AllocationSpec, status: AllocationStatus, uid: str, targets: dict[str, Decimal],
    equities: dict[str, Decimal], weights: plan.Weights, meta: Mapping[str, Any], now: datetime,
) -> tuple[list[plan.Leg], str]:  # fmt: skip
    month = now.strftime("%Y-%m")
    if spec.monthly_contribution > 0 and status.contribution_month != month:
        name = f"contribution-{month}"
        return plan.contribution(uid, month, spec.monthly_contribution, targets), name
    created = parse_time(str(meta["creationTimestamp"])) or now
    since = status.last_rebalance or created
    drifted = weights.max_drift > spec.drift_threshold
    if drifted or plan.calendar_due(spec.calendar_fallback, since, now):
        name = f"rebalance-{status.rebalance_round + 1}"
        return plan.rebalance(uid, name, targets, equities), name
    return [], ""


async def _publish(
    ctx: Context, namespace: str, allocation: str, by_name: dict[str, EngineSnapshot],
    targets: dict[str, Decimal], weights: plan.Weights, settling: Callable[[], bool],
) -> None:  # fmt: skip
    """Each engine's target and current weight in its status.allocation, where it no longer
    `shows` them; none while governance is `settling` (asked before each write: a halt may
    begin in the middle of a pass), for a display must not slow a halt's records."""
    for name, target in targets.items():
        snapshot = by_name.get(name)
        if snapshot is None:
            continue
        report = {
            "allocation": allocation, "targetWeight": _text(target, 4),
            "targetCapital": _text(weights.total * target, 2),
            "currentWeight": _text(weights.current.get(name, Decimal(0)), 4),
        }  # fmt: skip
        if shows(snapshot.allocation or {}, report):
            continue
        if settling():
            log.info("allocation %s/%s: the Engines' figures wait for governance's directive to "
                     "settle", namespace, allocation)  # fmt: skip
            return
        await ctx.kube.merge_patch(
            API, "Engine", namespace, name, {"status": {"allocation": report}}, subresource="status"
        )


def shows(current: Mapping[str, Any], report: Mapping[str, str]) -> bool:
    """The Engine's `status.allocation` (`current`) shows `report` near enough: the same
    allocation and target weight, a current weight and target capital within `SHOWN_WITHIN` of
    what it shows."""
    if any(current.get(k) != report[k] for k in ("allocation", "targetWeight")):
        return False
    for key in ("currentWeight", "targetCapital"):
        try:
            shown = Decimal(str(current.get(key)))
        except InvalidOperation:
            return False
        if not shown.is_finite() or abs(Decimal(report[key]) - shown) > SHOWN_WITHIN * abs(shown):
            return False
    return True


def governance_settling(
    engines: Iterable[EngineSnapshot], policies: Iterable[PolicySnapshot], now: datetime
) -> bool:
    """A directive of governance is still being written: a policy's emergency halt is asked
    for and not yet latched; or, of a directive issued within `SETTLES_WITHIN`, a policy's
    records of its newest sequence are not all written (`recordedSequence`), or an Engine's
    runtime has not reported the directive it holds applied, its phase is Halting, or its phase
    is yet to follow its record (the write of Halted, or of Running after a reset)."""
    for policy in policies:
        if policy.emergency and not policy.halted:  # the patch is in, its latch not yet
            return True
        directive = policy.directive or {}
        if _recent(directive, now) and directive.get("sequence") != policy.recorded:
            return True
    for engine in engines:
        governance = engine.governance or {}
        if not _recent(governance, now):
            continue
        applied = (engine.runtime or {}).get("appliedDirective")
        status = {**engine.status, "governance": governance}
        if (
            applied != governance.get("sequence")
            or status.get("phase") == Phase.HALTING
            or phase_contradicts_record(status)
        ):
            return True
    return False


def _recent(directive: Mapping[str, Any], now: datetime) -> bool:
    try:
        issued = parse_time(directive.get("issuedAt"))
    except ValueError:
        return False
    return issued is not None and now - issued < SETTLES_WITHIN


async def _write(ctx: Context, namespace: str, name: str, status: dict[str, Any]) -> None:
    await ctx.kube.merge_patch(
        API, "Allocation", namespace, name, {"status": status}, subresource="status"
    )


async def _master_keys(
    ctx: Context, spec: AllocationSpec, namespace: str
) -> credentials.ApiKeys | str:
    if spec.master_credentials is not None:
        ref = spec.master_credentials
        loaded = await credentials.load(
            ctx.kube,
            credentials.SecretRef(namespace, ref.secret_name, ref.api_key_key, ref.api_secret_key),
        )
        return loaded if isinstance(loaded, credentials.ApiKeys) else loaded.message
    s = ctx.settings
    if s.simulator_master_api_key and s.simulator_master_api_secret:
        return credentials.ApiKeys(
            s.simulator_master_api_key, s.simulator_master_api_secret.get_secret_value()
        )
    return "no spec.masterCredentials: transfers are planned but not executed"


async def _execute(
    ctx: Context, spec: AllocationSpec, namespace: str, name: str,
    by_name: dict[str, EngineSnapshot], records: list[dict[str, Any]],
    legs: list[dict[str, Any]], now: datetime, out: Pass,
) -> bool:  # fmt: skip
    keys = await _master_keys(ctx, spec, namespace)
    if isinstance(keys, str):
        out.events.append(Event("Warning", "TransfersNotExecuted", keys))
        return False
    venues = {Engine.model_validate({"spec": e.spec}).spec.venue for e in by_name.values()}
    if len(venues) != 1:
        out.events.append(Event("Warning", "MixedVenues", "engines on several venues"))
        return False
    s = ctx.settings
    rest = endpoints_for(venues.pop(), s.simulator_url, s.venue_ws_url()).rest_url
    subaccounts = {n: str(e.spec.get("subaccount")) for n, e in by_name.items()}
    try:
        ids = await ctx.venue.member_ids(rest, keys, sorted(set(subaccounts.values())))
    except Exception as error:  # retried next pass, same ids
        out.events.append(Event("Warning", "TransferFailed", f"cannot resolve members: {error}"))
        return False
    member = {**{n: ids[sub] for n, sub in subaccounts.items()}, plan.MASTER: ids["master"]}
    for leg in legs:
        leg["state"] = "Pending"
        await _write(ctx, namespace, name, {"transfers": records})
        try:
            result = await ctx.venue.transfer(
                rest, keys, leg["transferId"], leg["amount"],
                member[leg["fromEngine"]], member[leg["toEngine"]],
            )  # fmt: skip
        except Exception as error:  # stays Pending: the same id is retried next pass
            leg["reason"] = str(error)[:500]
            out.events.append(Event("Warning", "TransferFailed", f"{leg['transferId']}: {error}"))
            return False
        leg["state"] = "Success" if result.upper() == "SUCCESS" else "Pending"
        leg["time"] = _time(ctx.clock())
        leg.pop("reason", None)
        await _write(ctx, namespace, name, {"transfers": records})
        moved = f"{leg['amount']} USDT {leg['fromEngine']} -> {leg['toEngine']}"
        out.events.append(Event("Normal", "Transferred", moved))
    return True
