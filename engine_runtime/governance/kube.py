"""The runtime's Kubernetes access: read and watch its own Engine, patch `status.runtime`.

Exactly what its Role allows: get/list/watch on its Engine (list and watch narrowed with
`fieldSelector=metadata.name=<name>`) and get/patch on `engines/status`. Credentials from the
pod's service account, else $KUBECONFIG (the local pod runner sets it).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from .kubeconfig import load_access

GROUP_VERSION = "trading.eternal-engine.io/v1alpha1"
Obj = dict[str, Any]


class KubeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class EngineClient:
    def __init__(
        self,
        host: str,
        headers: dict[str, str],
        ssl_context: ssl.SSLContext | bool,
        namespace: str,
        name: str,
    ) -> None:
        self.host = host.rstrip("/")
        self.headers = headers
        self.ssl_context = ssl_context
        self.namespace = namespace
        self.name = name
        self._session: aiohttp.ClientSession | None = None
        base = f"/apis/{GROUP_VERSION}/namespaces/{namespace}/engines"
        self.collection = base
        self.path = f"{base}/{name}"

    @classmethod
    def from_environment(cls, namespace: str, name: str) -> EngineClient:
        access = load_access()
        return cls(access.server, access.headers, access.ssl_context, namespace, name)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self.headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self) -> Obj:
        async with self._client().get(
            self.host + self.path, ssl=self.ssl_context, timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise KubeError(response.status, text[:300])
            return dict(json.loads(text))

    async def patch_status(self, patch: Obj) -> None:
        async with self._client().patch(
            self.host + self.path + "/status",
            data=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json"},
            ssl=self.ssl_context,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            if response.status >= 400:
                raise KubeError(response.status, (await response.text())[:300])

    async def watch(self, resource_version: str, timeout_s: int = 60) -> AsyncIterator[Obj]:
        """Watch events of this Engine only; ends when the server closes the watch."""
        params = {
            "watch": "1",
            "fieldSelector": f"metadata.name={self.name}",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_s),
            "allowWatchBookmarks": "true",
        }
        async with self._client().get(
            self.host + self.collection,
            params=params,
            ssl=self.ssl_context,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_s + 15),
        ) as response:
            if response.status >= 400:
                raise KubeError(response.status, (await response.text())[:300])
            async for line in response.content:
                if line.strip():
                    yield dict(json.loads(line))
