"""One Backtest pass: make sure its Indexed Job exists, read the Job's state and the shards'
rows in PostgreSQL into the status, and once the Job completed publish the ranking.

The spec is immutable (a CEL transition rule refuses changes), so a Backtest has one Job for its
life: named after it and owned by it, so deleting the Backtest deletes the Job, its pods and the
report ConfigMap. A Job that is gone after the Backtest finished (deleted by hand) is not run
again: the status keeps the result.

Progress is the number of shards whose rows are in PostgreSQL (a shard commits its rows just
before its pod exits 0); the phase is the Job's: Succeeded when it completed and every shard's
rows are there, Failed with the Job's reason (BackoffLimitExceeded, DeadlineExceeded) when it
failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from eternal_operator.api.v1alpha1.backtest import BacktestPhase, BacktestSpec, combinations
from eternal_operator.controllers.engine.reconcile import Context, Event

from . import render, results
from .render import BacktestRef

CONDITION = "Completed"


@dataclass
class Pass:
    status: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    phase: BacktestPhase
    reason: str
    message: str


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ref(body: Mapping[str, Any]) -> BacktestRef:
    meta = body["metadata"]
    return BacktestRef(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


def job_result(job: Mapping[str, Any]) -> Result:
    status = job.get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or [] if c.get("status") == "True"}
    if "Complete" in conditions:
        return Result(BacktestPhase.SUCCEEDED, "Completed", "every shard completed")
    if "Failed" in conditions:
        failed = conditions["Failed"]
        return Result(BacktestPhase.FAILED, str(failed.get("reason") or "JobFailed"),
                      str(failed.get("message") or "the Job failed") + " (see the shard pods' "
                      "logs)")  # fmt: skip
    if int(status.get("active") or 0) > 0:
        return Result(BacktestPhase.RUNNING, "Running", f"{status['active']} shard pods run")
    return Result(BacktestPhase.PENDING, "JobPending", "the Job has no running pod yet")


def apply_summary(out: Pass, summary: results.Summary, shards: int, final: bool) -> None:
    done = len(summary.completed_shards)
    out.status["completedShards"] = done
    out.status["progress"] = f"{done}/{shards}"
    out.status["bestScore"] = summary.best_score
    out.status["bestParams"] = summary.best_params or None
    out.status["failedCombinations"] = summary.failed
    if final:
        out.status["top"] = summary.top


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> Pass:
    out = Pass()
    ref = _ref(body)
    before = body.get("status") or {}
    out.status["observedGeneration"] = int(body["metadata"].get("generation") or 0)
    try:
        spec = BacktestSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _report(
            out,
            Result(BacktestPhase.FAILED, "InvalidSpec", f"invalid spec at {where}: {first['msg']}"),
            before,
            ctx,
        )
    url = ctx.settings.database_url
    if not url:
        return _report(out, Result(BacktestPhase.FAILED, "NoDatabase",
                                   "the operator has no database URL (EE_OPERATOR_DATABASE_URL): "
                                   "shards have nowhere to write"), before, ctx)  # fmt: skip
    if before.get("phase") in (BacktestPhase.SUCCEEDED.value, BacktestPhase.FAILED.value):
        return out  # finished: one Job per Backtest, its result stays
    out.status["shards"], out.status["combinations"] = spec.shards, combinations(spec)
    name = render.job_name(ref)
    job = await ctx.kube.get_or_none("batch/v1", "Job", ref.namespace, name)
    if job is None:
        job = await ctx.kube.apply(render.job(ref, spec, ctx.settings))
        out.events.append(Event("Normal", "JobCreated",
                                f"{spec.shards} shards of {combinations(spec)} combinations in "
                                f"Indexed Job {name}"))  # fmt: skip
    elif not _owned_by(job, ref):
        return _report(
            out,
            Result(
                BacktestPhase.FAILED, "JobNotOwned", f"Job {name} exists and is not this Backtest's"
            ),
            before,
            ctx,
        )
    out.status["job"] = name
    job_status = job.get("status") or {}
    if job_status.get("startTime"):
        out.status["startedAt"] = job_status["startTime"]
    rows = await results.read_rows(url, ref.uid)
    summary = results.summarise(rows, spec.metric.value, spec.top)
    result = job_result(job)
    final = result.phase in (BacktestPhase.SUCCEEDED, BacktestPhase.FAILED)
    if result.phase is BacktestPhase.SUCCEEDED:
        missing = set(range(spec.shards)) - summary.completed_shards
        if missing:
            result = Result(
                BacktestPhase.FAILED,
                "ResultsMissing",
                f"the Job completed but shards {sorted(missing)} wrote no rows",
            )
        else:
            await ctx.kube.apply(render.report_config_map(
                ref, results.ranked_csv(results.rank(rows), spec.metric.value)))  # fmt: skip
            out.status["report"] = f"configmap/{render.report_name(ref)} ({render.REPORT_KEY})"
            best = summary.best_params or {}
            result = Result(BacktestPhase.SUCCEEDED, "Completed",
                            f"{len(rows)} combinations in {spec.shards} shards; best "
                            f"{spec.metric.value} {summary.best_score} with {best}")  # fmt: skip
    if final:
        out.status["completedAt"] = (
            job_status.get("completionTime") or before.get("completedAt") or _time(ctx.clock())
        )
    apply_summary(out, summary, spec.shards, final)
    return _report(out, result, before, ctx)


def _owned_by(obj: Mapping[str, Any], ref: BacktestRef) -> bool:
    owners = obj["metadata"].get("ownerReferences") or []
    return any(o.get("uid") == ref.uid and o.get("controller") for o in owners)


def _report(out: Pass, result: Result, before: Mapping[str, Any], ctx: Context) -> Pass:
    out.status["phase"] = result.phase.value
    ok = result.phase is BacktestPhase.SUCCEEDED
    status = "True" if ok else ("False" if result.phase is BacktestPhase.FAILED else "Unknown")
    old = {c["type"]: c for c in before.get("conditions") or []}.get(CONDITION) or {}
    condition = {
        "type": CONDITION, "status": status, "reason": result.reason,
        "message": result.message[:2048], "observedGeneration": out.status["observedGeneration"],
        "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == status
        else _time(ctx.clock()),
    }  # fmt: skip
    out.status["conditions"] = [condition]
    if before.get("phase") != result.phase.value:
        kind = "Warning" if result.phase is BacktestPhase.FAILED else "Normal"
        was = before.get("phase") or "None"
        out.events.append(Event(kind, f"Phase{result.phase.value}",
                                f"{was} -> {result.phase.value}: {result.message}"))  # fmt: skip
    return out
