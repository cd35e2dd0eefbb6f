"""Keeps one local process per engine Deployment that wants a replica, and reports it; runs the
operator's Jobs too (jobs.py).

replicas 0 stops the process (SIGTERM, then SIGKILL after the pod's grace period); a changed pod
template restarts it; a crashed process is restarted with exponential backoff (2 s doubling to
60 s, back to 2 s once it has been ready for `READY_RESETS_BACKOFF_S`, as the kubelet does after
10 minutes) and its restarts are counted (annotation `dev.eternal-engine.io/restarts`); the
Deployment's status says what runs (replicas, ready from the readiness probe, available), so
`kubectl get deploy` is truthful. With a `targets_file`, each running pod's `metrics` port is
listed there for the local Prometheus (file-based service discovery, `devtools.monitoring`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from eternal_operator.devtools.backoff import Backoff, Crashes, crashed, observed
from eternal_operator.devtools.monitoring import ENGINE_LABEL, write_runtime_targets
from eternal_operator.devtools.processes import spawn, stop
from eternal_operator.kube import KubeClient, KubeError

from .jobs import JobRunner
from .template import LocalPod, TemplateError, resolve, template_hash

log = logging.getLogger(__name__)

SELECTOR = "app.kubernetes.io/managed-by=eternal-engine-operator"
RESTARTS = "dev.eternal-engine.io/restarts"
READY_RESETS_BACKOFF_S = 60.0
"""A pod ready this long without a break starts its next crash from the shortest wait."""
BACKOFF = Backoff(first_s=2.0, max_s=60.0, healthy_after_s=READY_RESETS_BACKOFF_S)
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


@dataclass
class Slot:
    """One Deployment's local pod: its process, template and restart history."""

    namespace: str
    name: str
    template: str = ""
    pod: LocalPod | None = None
    process: subprocess.Popen[bytes] | None = None
    crashes: Crashes = field(default_factory=Crashes)
    retry_at: float = 0.0
    ready: bool = False
    last_error: str | None = None
    reported: dict[str, Any] = field(default_factory=dict)
    engine: str = ""
    """The Deployment's engine label (its Engine's name)."""

    @property
    def restarts(self) -> int:
        return self.crashes.restarts


class PodRunner:
    def __init__(
        self,
        kube: KubeClient,
        root: Path,
        ca_file: str | None,
        clock: Callable[[], float] = time.monotonic,
        pod_server: str | None = None,
        targets_file: Path | None = None,
    ) -> None:
        self.kube = kube
        self.root = root
        self.ca_file = ca_file
        self.pod_server = pod_server
        """The API server's address as the pods reach it (default: the runner's own)."""
        self.targets_file = targets_file
        """Where the running pods' metrics endpoints are listed for Prometheus (file_sd)."""
        self.clock = clock
        self.slots: dict[tuple[str, str], Slot] = {}
        self._http: aiohttp.ClientSession | None = None
        self.jobs = JobRunner(kube, root, ca_file, pod_server, lambda: self.clock())

    async def run(self, stopping: asyncio.Event, interval_s: float = 1.0) -> None:
        try:
            while not stopping.is_set():
                try:
                    await self.sync_once()
                except KubeError as error:
                    log.warning("pod runner: API server: %s", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=interval_s)
        finally:
            await self.shutdown()

    async def sync_once(self) -> None:
        listed = await self.kube.request(
            "GET", "/apis/apps/v1/deployments", params={"labelSelector": SELECTOR}
        )
        seen = set()
        for deployment in listed.get("items", []):
            meta = deployment["metadata"]
            key = (meta["namespace"], meta["name"])
            seen.add(key)
            slot = self.slots.setdefault(key, Slot(*key))
            slot.engine = (meta.get("labels") or {}).get(ENGINE_LABEL, meta["name"])
            await self._converge(slot, deployment)
            await self._report(slot, deployment)
        for key in list(self.slots):
            if key not in seen:
                await asyncio.to_thread(self._stop, self.slots.pop(key))
        self._list_targets()
        await self.jobs.sync_once(SELECTOR)

    def _list_targets(self) -> None:
        if self.targets_file is None:
            return
        pods = [
            (s.namespace, s.name, s.engine, s.pod.ports["metrics"])
            for s in self.slots.values()
            if s.process is not None and s.pod is not None and "metrics" in s.pod.ports
        ]
        write_runtime_targets(self.targets_file, pods)

    async def _converge(self, slot: Slot, deployment: dict[str, Any]) -> None:
        want = int(deployment["spec"].get("replicas", 1)) > 0
        template = template_hash(deployment)
        if slot.process is not None and (not want or template != slot.template):
            why = "scaled to 0" if not want else "template changed"
            log.info("pod runner: stopping %s/%s (%s)", slot.namespace, slot.name, why)
            await asyncio.to_thread(self._stop, slot)
            if template != slot.template:
                slot.crashes, slot.retry_at = Crashes(), 0.0
        if not want:
            return
        now = self.clock()
        if slot.process is not None and slot.process.poll() is not None:
            code = slot.process.returncode
            slot.process, slot.ready = None, False
            backoff, slot.crashes = crashed(BACKOFF, slot.crashes, now)
            slot.retry_at = now + backoff
            slot.last_error = f"exited with code {code}; restarting in {backoff:.0f}s"
            log.warning("pod runner: %s/%s %s", slot.namespace, slot.name, slot.last_error)
        if slot.process is None and now >= slot.retry_at:
            await self._start(slot, deployment, template)
        if slot.process is not None:
            slot.ready = await self._probe(slot)
            slot.crashes = observed(slot.crashes, slot.ready, self.clock())

    async def _start(self, slot: Slot, deployment: dict[str, Any], template: str) -> None:
        try:
            pod = await resolve(
                self.kube, deployment, self.root / "pods", self.ca_file, self.pod_server
            )
        except (TemplateError, KubeError) as error:
            slot.last_error = str(error)
            slot.retry_at = self.clock() + 5
            log.warning("pod runner: cannot start %s/%s: %s", slot.namespace, slot.name, error)
            return
        env = {k: os.environ[k] for k in BASE_ENV if k in os.environ} | pod.env
        log_path = self.root / "logs" / f"{slot.namespace}_{slot.name}.log"
        slot.process = spawn(pod.argv, log_path, env=env)
        slot.pod, slot.template, slot.last_error = pod, template, None
        log.info("pod runner: started %s/%s as pid %d", slot.namespace, slot.name, slot.process.pid)

    async def _probe(self, slot: Slot) -> bool:
        pod = slot.pod
        if pod is None or pod.readiness_port is None:
            return slot.process is not None
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1))
        url = f"http://127.0.0.1:{pod.readiness_port}{pod.readiness_path}"
        try:
            async with self._http.get(url) as answer:
                return answer.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    def _stop(self, slot: Slot) -> None:
        if slot.process is not None:
            grace = slot.pod.grace_seconds if slot.pod else 30.0
            stop(slot.process, grace_seconds=grace)
        slot.process, slot.ready = None, False

    async def _report(self, slot: Slot, deployment: dict[str, Any]) -> None:
        running = 1 if slot.process is not None else 0
        ready = 1 if slot.ready else 0
        status = {
            "observedGeneration": deployment["metadata"].get("generation", 0),
            "replicas": running,
            "updatedReplicas": running,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, int(deployment["spec"].get("replicas", 1)) - ready),
            "conditions": [{
                "type": "Available", "status": "True" if ready else "False",
                "reason": "LocalProcessReady" if ready else "LocalProcessNotReady",
                "message": slot.last_error or ("running" if running else "not running"),
            }],
        }  # fmt: skip
        if status != slot.reported:
            await self.kube.merge_patch(
                "apps/v1", "Deployment", slot.namespace, slot.name, {"status": status},
                subresource="status",
            )  # fmt: skip
            slot.reported = status
        annotations = deployment["metadata"].get("annotations") or {}
        if annotations.get(RESTARTS, "0") != str(slot.restarts):
            await self.kube.merge_patch(
                "apps/v1", "Deployment", slot.namespace, slot.name,
                {"metadata": {"annotations": {RESTARTS: str(slot.restarts)}}},
            )  # fmt: skip

    async def shutdown(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(self._stop, s) for s in self.slots.values()))
        await self.jobs.shutdown()
        self._list_targets()
        if self._http is not None:
            await self._http.close()
