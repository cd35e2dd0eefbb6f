"""The local pod runner in a thread of a test, as `make up` runs it."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.devtools.podrunner.runner import PodRunner
from eternal_operator.kube import KubeClient
from support.waiting import wait_for


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Runner:
    """The pod runner in a thread with its own event loop, as `make up` runs it."""

    def __init__(self, plane: ControlPlane, root: Path, clock: FakeClock | None = None) -> None:
        self.plane, self.root, self.clock = plane, root, clock
        self.loop = asyncio.new_event_loop()
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._run())

    async def _run(self) -> None:
        os.environ["KUBECONFIG"] = str(self.plane.kubeconfig)
        kube = KubeClient.from_environment()
        self.stopping = asyncio.Event()
        try:
            runner = PodRunner(kube, self.root, str(self.plane.ca_file))
            if self.clock is not None:
                runner.clock = self.clock
            await runner.run(self.stopping, 0.3)
        finally:
            await kube.close()

    def __enter__(self) -> Runner:
        self.thread.start()
        wait_for(lambda: self.stopping is not None, 10, "the runner")
        return self

    def __exit__(self, *_: object) -> None:
        assert self.stopping is not None
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(timeout=60)
