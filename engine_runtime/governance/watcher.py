"""Watches a collection the runtime reads (its own Engine; its namespace's policies) and hands
every version of every object to the runtime.

List, then watch from the list's resourceVersion; a closed watch resumes from the last version
seen, an expired one (410) lists again. A listing is the whole truth: objects gone from it are
reported deleted. While the API server cannot be reached the runtime keeps obeying the last it
heard (and, after a restart, its checkpoint): the watcher only retries, with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from .kube import Collection, KubeError, Obj

log = logging.getLogger(__name__)

OnObject = Callable[[Obj], None]


class Watcher:
    def __init__(
        self,
        name: str,
        collection: Collection,
        on_object: OnObject,
        on_deleted: OnObject | None = None,
    ) -> None:
        self.name = name
        self.collection = collection
        self.on_object = on_object
        self.on_deleted = on_deleted
        self.connected = False
        self.seen = asyncio.Event()
        self.forbidden = False
        self._known: dict[str, Obj] = {}
        self._stopping = False

    def _deleted(self, obj: Obj) -> None:
        self._known.pop(str(obj.get("metadata", {}).get("name")), None)
        if self.on_deleted is not None:
            self.on_deleted(obj)

    def _listed(self, items: list[Obj]) -> None:
        names = {str(i.get("metadata", {}).get("name")) for i in items}
        for name, gone in list(self._known.items()):
            if name not in names:
                self._deleted(gone)
        for item in items:
            self._known[str(item.get("metadata", {}).get("name"))] = item
            self.on_object(item)

    async def run(self) -> None:
        failures = 0
        version = ""
        while not self._stopping:
            try:
                if not version:
                    items, version = await self.collection.list()
                    self.connected = True
                    self._listed(items)
                    self.seen.set()
                async for event in self.collection.watch(version):
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    if kind == "ERROR":
                        version = ""  # expired: list again
                        break
                    version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                    if kind in ("ADDED", "MODIFIED"):
                        self._known[str(obj.get("metadata", {}).get("name"))] = obj
                        self.on_object(obj)
                    elif kind == "DELETED":
                        self._deleted(obj)
                failures = 0
            except (KubeError, TimeoutError, OSError, ValueError) as error:
                self.connected = False
                failures += 1
                if isinstance(error, KubeError) and error.status == 410:
                    version = ""
                if isinstance(error, KubeError) and error.status == 403 and not self.forbidden:
                    self.forbidden = True
                    log.warning("%s watch: forbidden (%s); retrying slowly", self.name, error)
                delay = min(5.0, 0.25 * 2 ** min(failures, 5)) * (0.5 + random.random())  # noqa: S311
                if self.forbidden:
                    delay = 30.0
                log.warning("%s watch: %s (retry in %.1fs)", self.name, error, delay)
                await asyncio.sleep(delay)

    def stop(self) -> None:
        self._stopping = True
