"""The runtime's Kubernetes access: its own Engine, and the CircuitBreakerPolicies of its
namespace (read-only), and `status.runtime`.

Exactly what its Role allows: get/list/watch on its Engine (list and watch narrowed with
`fieldSelector=metadata.name=<name>`), get/patch on `engines/status`, and get/list/watch on
`circuitbreakerpolicies` (so a halt is heard from the policy that latched it as well as from the
directive). Credentials from the pod's service account, else $KUBECONFIG (the local pod runner
sets it), through lightkube's authentication (kubeconfig.py): a rotated token file is re-read.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
from lightkube.core.exceptions import ConfigError

from eternal_kernel.kube.kubeconfig import connect, load_config

GROUP_VERSION = "trading.eternal-engine.io/v1alpha1"
Obj = dict[str, Any]


class KubeError(Exception):
    """A call failed; `status` is the HTTP status (0: no answer, the transport's error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class Collection:
    """One kind in the runtime's namespace, narrowed by `params` (a field selector)."""

    watch_s = (300, 600)
    """How long the API server keeps a watch open, drawn anew for each (client-go's reflector
    draws from 5 to 10 minutes). Watches of a minute each, two per runtime, came back at 16 a
    second at 500 engines, each a new request on the API server, halts or not."""
    quiet_s = 75.0
    """The longest a watch may send nothing before it is ended and watched again: a connection
    that died without a word is found in that time. A watch of a collection that changes gets a
    bookmark about every minute as well (the API server's watch cache); one of a collection
    that does not change gets nothing (no bookmark past the version watched from)."""

    def __init__(self, client: EngineClient, plural: str, params: dict[str, str]) -> None:
        self.client = client
        self.path = f"/apis/{GROUP_VERSION}/namespaces/{client.namespace}/{plural}"
        self.params = params

    async def list(self) -> tuple[list[Obj], str]:
        """The items and the list's resourceVersion (to watch from)."""
        body = await self.client.request("GET", self.path, params=self.params)
        return list(body.get("items") or []), str(body.get("metadata", {}).get("resourceVersion"))

    async def watch(self, resource_version: str) -> AsyncIterator[Obj]:
        """Watch events; ends when the server closes the watch (after `watch_s`), or once it
        has sent nothing for `quiet_s`: the caller then watches again from its last version,
        so a dead connection is found as soon as a quiet one."""
        params = {
            **self.params,
            "watch": "1",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(random.randint(*self.watch_s)),  # noqa: S311
            "allowWatchBookmarks": "true",
        }
        timeout = httpx2.Timeout(10.0, read=self.quiet_s)
        try:
            async with self.client.session().stream(
                "GET", self.path, params=params, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise KubeError(response.status_code, response.text[:300])
                try:
                    async for line in response.aiter_lines():
                        if line.strip():
                            yield dict(json.loads(line))
                except httpx2.ReadTimeout:
                    return  # quiet for quiet_s after its answer: watched again at once
        except (httpx2.HTTPError, ConfigError) as error:
            raise KubeError(0, f"watch {self.path}: {error!r}") from error


class EngineClient:
    """`open_http` gives the HTTP client (base URL, TLS, authentication), opened on first use."""

    def __init__(
        self, open_http: Callable[[], httpx2.AsyncClient], namespace: str, name: str
    ) -> None:
        self.open_http = open_http
        self.namespace = namespace
        self.name = name
        self._session: httpx2.AsyncClient | None = None
        self.engines = Collection(self, "engines", {"fieldSelector": f"metadata.name={name}"})
        self.policies = Collection(self, "circuitbreakerpolicies", {})
        self.path = f"{self.engines.path}/{name}"

    @classmethod
    def from_environment(cls, namespace: str, name: str) -> EngineClient:
        config = load_config()  # a missing configuration fails here, not at the first call
        return cls(lambda: connect(config), namespace, name)

    def session(self) -> httpx2.AsyncClient:
        if self._session is None:
            self._session = self.open_http()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.aclose()
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
        try:
            response = await self.session().request(
                method,
                path,
                params=params,
                content=json.dumps(body).encode() if body is not None else None,
                headers=headers,
            )
        except (httpx2.HTTPError, ConfigError) as error:
            raise KubeError(0, f"{method} {path}: {error!r}") from error
        if response.status_code >= 400:
            raise KubeError(response.status_code, response.text[:300])
        return dict(response.json()) if response.content else {}

    async def get(self) -> Obj:
        """The Engine as the API server has it now."""
        return await self.request("GET", self.path)

    async def patch_status(self, patch: Obj) -> Obj:
        """Merge-patch the status; the Engine as it is after the patch."""
        return await self.request("PATCH", self.path + "/status", body=patch)
