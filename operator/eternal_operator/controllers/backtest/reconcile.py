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

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from eternal_kernel.api.v1alpha1.backtest import BacktestPhase, BacktestSpec, combinations
from eternal_operator.controllers.engine.reconcile import Context, Event
from eternal_operator.controllers.jobs import (
    FAILED,
    SUCCEEDED,
    Outcome,
    Pass,
    owned_by,
    report,
    time_text,
    true_conditions,
)

from . import render, results
from .render import BacktestRef

CONDITION = "Completed"


def _ref(body: Mapping[str, Any]) -> BacktestRef:
    meta = body["metadata"]
    return BacktestRef(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


def job_result(job: Mapping[str, Any]) -> Outcome:
    conditions = true_conditions(job)
    if "Complete" in conditions:
        return Outcome(SUCCEEDED, "Completed", "every shard completed")
    if "Failed" in conditions:
        failed = conditions["Failed"]
        return Outcome(FAILED, str(failed.get("reason") or "JobFailed"),
                       str(failed.get("message") or "the Job failed") + " (see the shard pods' "
                       "logs)")  # fmt: skip
    active = int((job.get("status") or {}).get("active") or 0)
    if active > 0:
        return Outcome(BacktestPhase.RUNNING.value, "Running", f"{active} shard pods run")
    return Outcome(BacktestPhase.PENDING.value, "JobPending", "the Job has no running pod yet")


def apply_summary(out: Pass, summary: results.Summary, shards: int, final: bool) -> None:
    done = len(summary.completed_shards)
    out.status["completedShards"] = done
    out.status["progress"] = f"{done}/{shards}"
    out.status["bestScore"] = summary.best_score
    out.status["bestParams"] = summary.best_params or None
    out.status["failedCombinations"] = summary.failed
    if final:
        out.status["top"] = summary.top


def completed_message(
    rows: Sequence[results.ShardRow], spec: BacktestSpec, summary: results.Summary
) -> str:
    metric = spec.metric.value
    done = f"{len(rows)} combinations in {spec.shards} shards"
    if summary.best_score is not None:
        return f"{done}; best {metric} {summary.best_score} with {summary.best_params}"
    traded = sum(1 for r in rows if r.stats.get("trades"))
    if not traded:
        return f"{done}; none made a trade: look at the data's span and the parameters"
    return (
        f"{done}; none has a {metric} ({traded} traded): the ratios are over daily returns, "
        "so data of a few days has none; rank by total_return or give more data"
    )


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> Pass:
    out = Pass()
    ref = _ref(body)
    before = body.get("status") or {}
    out.status["observedGeneration"] = int(body["metadata"].get("generation") or 0)

    def done(outcome: Outcome) -> Pass:
        return report(out, outcome, before, ctx.clock(), CONDITION)

    try:
        spec = BacktestSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return done(Outcome(FAILED, "InvalidSpec", f"invalid spec at {where}: {first['msg']}"))
    url = ctx.settings.database_url
    if not url:
        why = "the operator has no database URL (EE_OPERATOR_DATABASE_URL): shards have nowhere "
        return done(Outcome(FAILED, "NoDatabase", why + "to write"))
    if before.get("phase") in (SUCCEEDED, FAILED):
        return out  # finished: one Job per Backtest, its result stays
    out.status["shards"], out.status["combinations"] = spec.shards, combinations(spec)
    name = render.job_name(ref)
    job = await ctx.kube.get_or_none("batch/v1", "Job", ref.namespace, name)
    if job is None:
        job = await ctx.kube.apply(render.job(ref, spec, ctx.settings))
        out.events.append(Event("Normal", "JobCreated",
                                f"{spec.shards} shards of {combinations(spec)} combinations in "
                                f"Indexed Job {name}"))  # fmt: skip
    elif not owned_by(job, ref.uid):
        return done(Outcome(FAILED, "JobNotOwned", f"Job {name} exists and is not this "
                            "Backtest's"))  # fmt: skip
    out.status["job"] = name
    job_status = job.get("status") or {}
    if job_status.get("startTime"):
        out.status["startedAt"] = job_status["startTime"]
    rows = await results.read_rows(url, ref.uid)
    summary = results.summarise(rows, spec.metric.value, spec.top)
    outcome = job_result(job)
    final = outcome.phase in (SUCCEEDED, FAILED)
    if outcome.phase == SUCCEEDED:
        missing = set(range(spec.shards)) - summary.completed_shards
        if missing:
            outcome = Outcome(
                FAILED,
                "ResultsMissing",
                f"the Job completed but shards {sorted(missing)} wrote no rows",
            )
        else:
            plots = await results.read_plots(url, ref.uid)
            budget = results.REPORT_BUDGET - sum(len(p) * 4 // 3 for p in plots.values())
            table, kept = results.ranked_csv(results.rank(rows), spec.metric.value, budget)
            await ctx.kube.apply(render.report_config_map(ref, table, plots))
            out.status["report"] = (
                f"configmap/{render.report_name(ref)} ({render.REPORT_KEY}: "
                + ("every combination" if kept == len(rows) else f"the best {kept} of {len(rows)}")
                + ", ranked"
                + "".join(f"; {name}" for name in sorted(plots))
                + ")"
            )
            outcome = Outcome(SUCCEEDED, "Completed", completed_message(rows, spec, summary))
    if final:
        out.status["completedAt"] = (
            job_status.get("completionTime") or before.get("completedAt")
            or time_text(ctx.clock())
        )  # fmt: skip
    apply_summary(out, summary, spec.shards, final)
    return done(outcome)
