"""The runtime's Kubernetes access: its own Engine, and the CircuitBreakerPolicies of its
namespace (read-only), and `status.runtime`.

Exactly what its Role allows: get/list/watch on its Engine (list and watch narrowed with
`fieldSelector=metadata.name=<name>`), get/patch on `engines/status`, and get/list/watch on
`circuitbreakerpolicies` (so a halt is heard from the policy that latched it as well as from the
directive). Credentials from the pod's service account, else $KUBECONFIG (the local pod runner
sets it).
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


class Collection:
    """One kind in the runtime's namespace, narrowed by `params` (a field selector)."""

    def __init__(self, client: EngineClient, plural: str, params: dict[str, str]) -> None:
        self.client = client
        self.path = f"/apis/{GROUP_VERSION}/namespaces/{client.namespace}/{plural}"
        self.params = params

    async def list(self) -> tuple[list[Obj], str]:
        """The items and the list's resourceVersion (to watch from)."""
        body = await self.client.request("GET", self.path, params=self.params)
        return list(body.get("items") or []), str(body.get("metadata", {}).get("resourceVersion"))

    async def watch(self, resource_version: str, timeout_s: int = 60) -> AsyncIterator[Obj]:
        """Watch events; ends when the server closes the watch."""
        params = {
            **self.params,
            "watch": "1",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_s),
            "allowWatchBookmarks": "true",
        }
        async with self.client.session().get(
            self.client.host + self.path,
            params=params,
            ssl=self.client.ssl_context,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_s + 15),
        ) as response:
            if response.status >= 400:
                raise KubeError(response.status, (await response.text())[:300])
            async for line in response.content:
                if line.strip():
                    yield dict(json.loads(line))


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
        self.engines = Collection(self, "engines", {"fieldSelector": f"metadata.name={name}"})
        self.policies = Collection(self, "circuitbreakerpolicies", {})
        self.path = f"{self.engines.path}/{name}"

    @classmethod
    def from_environment(cls, namespace: str, name: str) -> EngineClient:
        access = load_access()
        return cls(access.server, access.headers, access.ssl_context, namespace, name)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self.headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Obj | None = None,
    ) -> Obj:
        headers = {"Content-Type": "application/merge-patch+json"} if body is not None else {}
        async with self.session().request(
            method,
            self.host + path,
            params=params,
            data=json.dumps(body) if body is not None else None,
            headers=headers,
            ssl=self.ssl_context,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            text = await response.text()
            if response.status >= 400:
                raise KubeError(response.status, text[:300])
            return dict(json.loads(text)) if text else {}

    async def get(self) -> Obj:
        """The Engine as the API server has it now."""
        return await self.request("GET", self.path)

    async def patch_status(self, patch: Obj) -> Obj:
        """Merge-patch the status; the Engine as it is after the patch."""
        return await self.request("PATCH", self.path + "/status", body=patch)
