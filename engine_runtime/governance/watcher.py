"""Watches the runtime's own Engine and hands every version of it to the runtime.

List (get) then watch from its resourceVersion; a closed watch resumes from the last version
seen, an expired one (410) starts over with a get. While the API server cannot be reached the
runtime keeps obeying the last directive it saw (and, after a restart, the one in its
checkpoint): the watcher only retries, with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import aiohttp

from .kube import EngineClient, KubeError, Obj

log = logging.getLogger(__name__)


class EngineWatcher:
    def __init__(self, client: EngineClient, on_engine: Callable[[Obj], None]) -> None:
        self.client = client
        self.on_engine = on_engine
        self.connected = False
        self.seen = asyncio.Event()
        self._stopping = False

    async def run(self) -> None:
        failures = 0
        version = ""
        while not self._stopping:
            try:
                if not version:
                    engine = await self.client.get()
                    self.connected = True
                    self.on_engine(engine)
                    self.seen.set()
                    version = str(engine["metadata"].get("resourceVersion", ""))
                async for event in self.client.watch(version):
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "ERROR":
                        version = ""  # expired: list again
                        break
                    version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                    if kind in ("ADDED", "MODIFIED"):
                        self.on_engine(obj)
                failures = 0
            except (KubeError, aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
                self.connected = False
                failures += 1
                if isinstance(error, KubeError) and error.status == 410:
                    version = ""
                delay = min(5.0, 0.25 * 2 ** min(failures, 5)) * (0.5 + random.random())  # noqa: S311
                log.warning("engine watch: %s (retry in %.1fs)", error, delay)
                await asyncio.sleep(delay)

    def stop(self) -> None:
        self._stopping = True
