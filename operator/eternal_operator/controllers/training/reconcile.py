"""One ModelTraining pass: resolve what to train, make sure its objects and its Job exist, and
read the Job's and the output ConfigMap's state into the status.

A spec (or, with `paramsFrom`, the Engine's parameters) that changes what is trained gives a new
spec hash and so a new Job; the previous Job is deleted. The Job's pod publishes into the
ConfigMap, annotated with the Job's name: only what the current Job wrote counts. A ConfigMap of
the output's name that the ModelTraining does not own is never written (a Failed condition says
so). Deleting the ModelTraining deletes its Job, ConfigMap and RBAC (owner references).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from eternal_kernel.api.v1alpha1 import GROUP, VERSION
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams
from eternal_kernel.api.v1alpha1.training import (
    ERROR_ANNOTATION,
    JOB_ANNOTATION,
    METRICS_ANNOTATION,
    MODEL_SHA_ANNOTATION,
    ModelTrainingSpec,
    TrainingPhase,
)
from eternal_operator.controllers.engine.diff import is_subset
from eternal_operator.controllers.engine.reconcile import Context, Event
from eternal_operator.controllers.jobs import Outcome, Pass, owned_by, report, time_text
from eternal_operator.kube import KubeClient, NotFound

from . import render
from .render import Plan, TrainingRef

Result = Outcome


def _ref(body: Mapping[str, Any]) -> TrainingRef:
    meta = body["metadata"]
    return TrainingRef(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


async def _plan(kube: KubeClient, body: Mapping[str, Any]) -> Plan | Result:
    try:
        spec = ModelTrainingSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return Result(TrainingPhase.FAILED, "InvalidSpec", f"invalid spec at {where}: "
                      f"{first['msg']}")  # fmt: skip
    if spec.params_from is None:
        return Plan(spec, spec.params or MetaTrendParams())
    namespace, engine = body["metadata"]["namespace"], spec.params_from.engine
    found = await kube.get_or_none(f"{GROUP}/{VERSION}", "Engine", namespace, engine)
    if found is None:
        return Result(TrainingPhase.PENDING, "EngineNotFound",
                      f"paramsFrom names Engine {engine}, which does not exist")  # fmt: skip
    block = ((found.get("spec") or {}).get("params") or {}).get("metaTrend") or {}
    try:
        return Plan(spec, MetaTrendParams.model_validate(block))
    except ValidationError as error:
        why = error.errors()[0]["msg"]
        return Result(TrainingPhase.FAILED, "InvalidSpec", f"Engine {engine}: {why}")


async def _ensure(kube: KubeClient, desired: dict[str, Any]) -> dict[str, Any]:
    meta = desired["metadata"]
    live = await kube.get_or_none(
        desired["apiVersion"], desired["kind"], meta["namespace"], meta["name"]
    )
    if live is not None and is_subset(desired, live):
        return live
    return await kube.apply(desired)


def _job_result(job: Mapping[str, Any]) -> Result:
    status = job.get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or [] if c.get("status") == "True"}
    if "Complete" in conditions:
        return Result(TrainingPhase.SUCCEEDED, "Trained", "the Job completed")
    if "Failed" in conditions:
        failed = conditions["Failed"]
        return Result(TrainingPhase.FAILED, str(failed.get("reason") or "JobFailed"),
                      str(failed.get("message") or "the Job failed"))  # fmt: skip
    if int(status.get("active") or 0) > 0:
        return Result(TrainingPhase.RUNNING, "Training", "the training pod runs")
    return Result(TrainingPhase.PENDING, "JobPending", "the Job has no running pod yet")


def _published(config_map: Mapping[str, Any], job: str, result: Result, out: Pass) -> Result:
    """What the ConfigMap says of the finished Job `job`: its metrics, or why it failed."""
    annotations = config_map["metadata"].get("annotations") or {}
    mine = annotations.get(JOB_ANNOTATION) == job
    if result.phase is TrainingPhase.FAILED:
        error = annotations.get(ERROR_ANNOTATION) if mine else None
        if error:
            return Result(TrainingPhase.FAILED, "TrainingFailed", f"{result.message}: {error}"
                          if result.reason == "DeadlineExceeded" else error)  # fmt: skip
        return result
    if not mine or ERROR_ANNOTATION in annotations:
        return Result(TrainingPhase.FAILED, "NotPublished",
                      f"the Job completed but ConfigMap {config_map['metadata']['name']} holds "
                      "no artifact of it")  # fmt: skip
    try:
        metrics = json.loads(annotations.get(METRICS_ANNOTATION) or "{}")
    except ValueError:
        metrics = {}
    out.status["metrics"] = {str(k): str(v)[:64] for k, v in dict(metrics).items()}
    out.status["modelSha256"] = annotations.get(MODEL_SHA_ANNOTATION)
    return Result(TrainingPhase.SUCCEEDED, "Trained",
                  f"model {str(annotations.get(MODEL_SHA_ANNOTATION))[:12]} published into "
                  f"ConfigMap {config_map['metadata']['name']}")  # fmt: skip


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> Pass:
    out = Pass()
    ref = _ref(body)
    before = body.get("status") or {}
    out.status["observedGeneration"] = int(body["metadata"].get("generation") or 0)
    plan = await _plan(ctx.kube, body)
    if isinstance(plan, Result):  # a missing Engine is looked for again at the next resync
        return _report(out, plan, before, ctx.clock())
    out.status["configMap"] = plan.spec.output_config_map
    config_map = await ctx.kube.get_or_none(
        "v1", "ConfigMap", ref.namespace, plan.spec.output_config_map
    )
    if config_map is not None and not owned_by(config_map, ref.uid):
        result = Result(TrainingPhase.FAILED, "ConfigMapNotOwned",
                        f"ConfigMap {plan.spec.output_config_map} exists and is not this "
                        "ModelTraining's: it is never overwritten; name another")  # fmt: skip
        return _report(out, result, before, ctx.clock())
    if config_map is None:
        config_map = await ctx.kube.apply(render.output_config_map(ref, plan))
    for desired in render.render_support(ref, plan):
        await _ensure(ctx.kube, desired)

    name = render.job_name(ref, plan)
    if before.get("job") and before["job"] != name:
        await _delete_job(ctx.kube, ref.namespace, str(before["job"]))
        out.events.append(Event("Normal", "Retraining",
                                f"what is trained changed: Job {before['job']} replaced by "
                                f"{name}"))  # fmt: skip
        for key in ("metrics", "modelSha256", "startedAt", "completedAt"):
            out.status[key] = None
    job = await ctx.kube.get_or_none("batch/v1", "Job", ref.namespace, name)
    if job is None:
        job = await ctx.kube.apply(render.job(ref, plan, ctx.settings))
        out.events.append(Event("Normal", "JobCreated", f"training in Job {name}"))
    out.status["job"], out.status["specHash"] = name, plan.spec_hash
    job_status = job.get("status") or {}
    if job_status.get("startTime"):
        out.status["startedAt"] = job_status["startTime"]
    result = _job_result(job)
    if result.phase in (TrainingPhase.SUCCEEDED, TrainingPhase.FAILED):
        out.status["completedAt"] = (
            job_status.get("completionTime") or before.get("completedAt") or time_text(ctx.clock())
        )
        result = _published(config_map, name, result, out)
    return _report(out, result, before, ctx.clock())


async def _delete_job(kube: KubeClient, namespace: str, name: str) -> None:
    """Delete a Job and, in the background, its pods (the API's default for Jobs orphans them)."""
    with contextlib.suppress(NotFound):
        await kube.request(
            "DELETE", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
            {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        )  # fmt: skip


def _report(out: Pass, result: Result, before: Mapping[str, Any], now: datetime) -> Pass:
    return report(out, result, before, now, "Trained")
