"""Runs the operator's batch/v1 Jobs as local processes, as the Job controller and a kubelet
would together, and writes each Job's status truthfully.

Each pod the Job wants (jobspec.wanted) is a process started from the pod template, with
`JOB_COMPLETION_INDEX` and the `batch.kubernetes.io/job-completion-index` annotation for an
Indexed Job. Exit 0 is a success; any other exit a failure: with restartPolicy Never the pod is
failed and a new one is started, with OnFailure the process restarts in its pod; in both cases
after the runner's backoff (2 s doubling, not the kubelet's 10 s, so local retries are quick),
and counted against `backoffLimit`. Once the Job has finished (jobspec.verdict: completions
reached, backoff limit or active deadline exceeded), its remaining processes are stopped and it
is left alone. Pods' logs are at `<root>/logs/<namespace>_<pod>.log`. There are no Pod objects:
the Job's status is what a controller watches, as it would on a cluster.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eternal_operator.devtools.backoff import Backoff, Crashes, crashed
from eternal_operator.devtools.processes import spawn, stop
from eternal_operator.kube import KubeClient, KubeError

from . import jobspec
from .jobspec import JobSpec, Progress
from .template import LocalPod, TemplateError, resolve

log = logging.getLogger(__name__)

BACKOFF = Backoff(first_s=2.0, max_s=60.0, healthy_after_s=float("inf"))
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


@dataclass
class JobPod:
    """One of a Job's pods: its process (restarted in place under OnFailure)."""

    name: str
    index: int | None
    pod: LocalPod
    process: subprocess.Popen[bytes] | None = None
    retry_at: float = 0.0


@dataclass
class JobSlot:
    namespace: str
    name: str
    uid: str
    spec: JobSpec
    progress: Progress
    started: datetime
    pods: list[JobPod] = field(default_factory=list)
    crashes: Crashes = field(default_factory=Crashes)
    retry_at: float = 0.0
    """No new pod before this (the backoff after a failed one)."""
    finished: tuple[jobspec.Verdict, datetime] | None = None
    reported: dict[str, Any] = field(default_factory=dict)


class JobRunner:
    def __init__(
        self,
        kube: KubeClient,
        root: Path,
        ca_file: str | None,
        pod_server: str | None,
        clock: Callable[[], float],
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube, self.root, self.ca_file, self.pod_server = kube, root, ca_file, pod_server
        self.clock, self.wall = clock, wall
        self.slots: dict[str, JobSlot] = {}
        """By the Job's uid: a Job deleted and created again under its name is another Job."""

    async def sync_once(self, selector: str) -> None:
        listed = await self.kube.request(
            "GET", "/apis/batch/v1/jobs", params={"labelSelector": selector}
        )
        seen = set()
        for job in listed.get("items", []):
            uid = job["metadata"]["uid"]
            if jobspec.finished(job) and uid not in self.slots:
                continue  # finished before this runner saw it: nothing to run
            seen.add(uid)
            slot = self.slots.get(uid) or self._slot(job)
            self.slots[uid] = slot
            if slot.finished is None:
                await self._converge(slot, job)
            await self._report(slot, job)
        for uid in list(self.slots):
            if uid not in seen:
                await asyncio.to_thread(self._stop_all, self.slots.pop(uid))

    def _slot(self, job: dict[str, Any]) -> JobSlot:
        meta, status = job["metadata"], job.get("status") or {}
        started = status.get("startTime")
        return JobSlot(
            namespace=meta["namespace"], name=meta["name"], uid=meta["uid"],
            spec=JobSpec.of(job), progress=Progress.of(status),
            started=datetime.fromisoformat(started) if started else self.wall(),
        )  # fmt: skip

    async def _converge(self, slot: JobSlot, job: dict[str, Any]) -> None:
        now = self.clock()
        for pod in list(slot.pods):
            if pod.process is None or pod.process.poll() is None:
                continue
            code = pod.process.returncode
            pod.process = None
            if code == 0:
                slot.pods.remove(pod)
                slot.progress.succeeded += 1
                if pod.index is not None:
                    slot.progress.completed.add(pod.index)
                log.info("pod runner: job pod %s/%s succeeded", slot.namespace, pod.name)
                continue
            backoff, slot.crashes = crashed(BACKOFF, slot.crashes, now)
            log.warning("pod runner: job pod %s/%s exited with code %d",
                        slot.namespace, pod.name, code)  # fmt: skip
            if slot.spec.restart_on_failure:
                slot.progress.restarts += 1
                pod.retry_at = now + backoff
            else:
                slot.pods.remove(pod)
                slot.progress.failed += 1
                slot.retry_at = now + backoff
        running_s = (self.wall() - slot.started).total_seconds()
        result = jobspec.verdict(slot.spec, slot.progress, running_s)
        if result is not None:
            if not result.complete:
                slot.progress.failed += sum(1 for p in slot.pods if p.process is not None)
            await asyncio.to_thread(self._stop_all, slot)
            slot.finished = (result, self.wall())
            log.info("pod runner: job %s/%s %s", slot.namespace, slot.name, result.reason)
            return
        for pod in slot.pods:  # OnFailure: the container restarts in its pod
            if pod.process is None and now >= pod.retry_at:
                self._spawn(slot, pod)
        if now < slot.retry_at:
            return
        for index in jobspec.wanted(slot.spec, slot.progress, [p.index for p in slot.pods]):
            created = await self._new_pod(slot, job, index)
            if created is None:
                return
            slot.pods.append(created)
            self._spawn(slot, created)

    async def _new_pod(
        self, slot: JobSlot, job: dict[str, Any], index: int | None
    ) -> JobPod | None:
        suffix = secrets.token_hex(3)[:5]
        name = f"{slot.name}-{index}-{suffix}" if index is not None else f"{slot.name}-{suffix}"
        extra = {jobspec.INDEX_ANNOTATION: str(index)} if index is not None else {}
        try:
            pod = await resolve(
                self.kube, job, self.root / "pods", self.ca_file, self.pod_server,
                pod_name=name, annotations=extra,
            )  # fmt: skip
        except (TemplateError, KubeError) as error:
            slot.retry_at = self.clock() + 5
            log.warning("pod runner: cannot start a pod of job %s/%s: %s",
                        slot.namespace, slot.name, error)  # fmt: skip
            return None
        if index is not None:
            pod.env[jobspec.INDEX_ENV] = str(index)
        return JobPod(name=name, index=index, pod=pod)

    def _spawn(self, slot: JobSlot, pod: JobPod) -> None:
        env = {k: os.environ[k] for k in BASE_ENV if k in os.environ} | pod.pod.env
        log_path = self.root / "logs" / f"{slot.namespace}_{pod.name}.log"
        pod.process = spawn(pod.pod.argv, log_path, env=env)
        log.info("pod runner: started job pod %s/%s as pid %d",
                 slot.namespace, pod.name, pod.process.pid)  # fmt: skip

    def _stop_all(self, slot: JobSlot) -> None:
        for pod in slot.pods:
            if pod.process is not None:
                stop(pod.process, grace_seconds=pod.pod.grace_seconds)
        slot.pods.clear()

    async def _report(self, slot: JobSlot, job: dict[str, Any]) -> None:
        active = [p for p in slot.pods if p.process is not None]
        status = jobspec.status(
            slot.spec, slot.progress, active=len(active), ready=len(active),
            started=slot.started, finished=slot.finished, before=job.get("status") or {},
        )  # fmt: skip
        if status == slot.reported:
            return
        await self.kube.merge_patch(
            "batch/v1", "Job", slot.namespace, slot.name, {"status": status},
            subresource="status",
        )  # fmt: skip
        slot.reported = status
        if slot.finished is not None:
            self.slots.pop(slot.uid, None)  # finished and said so: nothing more to do

    async def shutdown(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(self._stop_all, s) for s in self.slots.values()))
