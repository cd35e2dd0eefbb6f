"""What the Job controller decides, as plain functions: which pods a batch/v1 Job wants next,
when it has finished, and the status that says so.

The rules of Kubernetes' Job controller for what the local pod runner supports: `completions`
(default 1), `parallelism` (default 1), `backoffLimit` (default 6: the Job fails when more pods
failed, or, with restartPolicy OnFailure, more containers restarted, than that),
`activeDeadlineSeconds` (counted from `status.startTime`), and `completionMode: Indexed` (one
success per index 0..completions-1, `status.completedIndexes` as Kubernetes compresses it, e.g.
"0-2,5"). A finished Job carries, as the API server (1.31+) demands of a Job controller,
SuccessCriteriaMet then Complete, or FailureTarget then Failed, with `active` 0 and, for a
completed one, a `completionTime`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"


@dataclass(frozen=True)
class JobSpec:
    completions: int
    parallelism: int
    backoff_limit: int
    indexed: bool
    restart_on_failure: bool
    """restartPolicy OnFailure: a failed container restarts in its pod (Never: a new pod)."""
    active_deadline_s: int | None

    @classmethod
    def of(cls, job: Obj) -> JobSpec:
        spec = job["spec"]
        policy = spec["template"]["spec"].get("restartPolicy", "Never")
        deadline = spec.get("activeDeadlineSeconds")
        return cls(
            completions=int(spec.get("completions") or 1),
            parallelism=int(spec.get("parallelism", 1)),
            backoff_limit=int(spec.get("backoffLimit", 6)),
            indexed=spec.get("completionMode") == "Indexed",
            restart_on_failure=policy == "OnFailure",
            active_deadline_s=None if deadline is None else int(deadline),
        )


@dataclass
class Progress:
    """What has happened to a Job's pods so far (kept in its status, so a restarted runner
    resumes from it)."""

    succeeded: int = 0
    failed: int = 0
    """Pods that failed (restartPolicy Never), or were ended when the Job failed."""
    restarts: int = 0
    """Containers restarted in their pods (restartPolicy OnFailure)."""
    completed: set[int] = field(default_factory=set)
    """Indexes that succeeded (Indexed Jobs)."""

    @classmethod
    def of(cls, status: Obj) -> Progress:
        return cls(
            succeeded=int(status.get("succeeded") or 0),
            failed=int(status.get("failed") or 0),
            completed=parse_indexes(status.get("completedIndexes") or ""),
        )

    def done(self, spec: JobSpec) -> bool:
        if spec.indexed:
            return len(self.completed) >= spec.completions
        return self.succeeded >= spec.completions

    def backoff_exceeded(self, spec: JobSpec) -> bool:
        return self.failed + self.restarts > spec.backoff_limit


def wanted(spec: JobSpec, progress: Progress, active: list[int | None]) -> list[int | None]:
    """The pods to start now, given those active (their indexes; None for a NonIndexed pod):
    up to `parallelism` at a time, never more than the completions still missing."""
    room = spec.parallelism - len(active)
    if room <= 0 or progress.done(spec):
        return []
    if spec.indexed:
        busy = set(active) | progress.completed
        free: list[int | None] = [i for i in range(spec.completions) if i not in busy]
        return free[:room]
    missing = spec.completions - progress.succeeded - len(active)
    return [None] * max(0, min(room, missing))


@dataclass(frozen=True)
class Verdict:
    complete: bool
    reason: str
    message: str


def verdict(spec: JobSpec, progress: Progress, running_s: float | None) -> Verdict | None:
    """Whether the Job has finished, and how; `running_s` is the time since its startTime."""
    if progress.done(spec):
        return Verdict(True, "CompletionsReached", "Reached expected number of succeeded pods")
    if progress.backoff_exceeded(spec):
        return Verdict(False, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    deadline = spec.active_deadline_s
    if deadline is not None and running_s is not None and running_s >= deadline:
        return Verdict(False, "DeadlineExceeded", "Job was active longer than specified deadline")
    return None


def parse_indexes(text: str) -> set[int]:
    """ "0-2,5" -> {0, 1, 2, 5}."""
    out: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def format_indexes(indexes: set[int]) -> str:
    """{0, 1, 2, 5} -> "0-2,5", as Kubernetes writes completedIndexes."""
    runs: list[list[int]] = []
    for i in sorted(indexes):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(
    spec: JobSpec,
    progress: Progress,
    *,
    active: int,
    ready: int,
    started: datetime,
    finished: tuple[Verdict, datetime] | None,
    before: Obj,
) -> Obj:
    """The Job's status; conditions keep the transition times they already have."""
    out: Obj = {"startTime": timestamp(started), "active": active, "ready": ready,
                "succeeded": progress.succeeded, "failed": progress.failed}  # fmt: skip
    if spec.indexed:
        out["completedIndexes"] = format_indexes(progress.completed)
    if finished is not None:
        result, at = finished
        out["active"], out["ready"] = 0, 0
        kinds = (
            ("SuccessCriteriaMet", "Complete") if result.complete else ("FailureTarget", "Failed")
        )
        old = {c["type"]: c for c in before.get("conditions") or []}
        out["conditions"] = [
            old.get(kind) or {
                "type": kind, "status": "True", "reason": result.reason,
                "message": result.message, "lastProbeTime": timestamp(at),
                "lastTransitionTime": timestamp(at),
            }
            for kind in kinds
        ]  # fmt: skip
        if result.complete:
            out["completionTime"] = before.get("completionTime") or timestamp(at)
    return out


def finished(job: Obj) -> bool:
    """The Job carries a Complete or Failed condition: nothing more runs for it."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in conditions)  # fmt: skip
