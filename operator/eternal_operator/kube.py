"""A small async Kubernetes REST client for the operator's own objects, on lightkube's
authentication (see eternal_kernel.kube.kubeconfig: merged kubeconfigs, token files re-read,
exec credentials).

kopf watches and patches the Engine itself; this client reads and writes what the operator owns
(Deployments, ConfigMaps, Services, RBAC, Secrets, Leases). Writes are server-side apply with the
operator's field manager, so re-applying an unchanged object is a no-op on the server. Every call
is counted in `eternal_operator_api_calls_total` by verb and resource, which the benchmark reports
per reconcile.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
from lightkube.core.exceptions import ConfigError

from eternal_kernel.kube.kubeconfig import connect, load_config
from eternal_operator.metrics import API_CALLS

FIELD_MANAGER = "eternal-engine-operator"

CONNECTIONS = 64
"""Concurrent requests, each on its own connection (HTTP/1.1). A directive goes to every engine
of a fleet at once, competing at the API server with the runtimes' own writes: at 50 engines on
the local stack, a limit of 8 made the last engine wait longer."""

Obj = dict[str, Any]

_PLURALS = {
    "ConfigMap": "configmaps",
    "Deployment": "deployments",
    "Event": "events",
    "Job": "jobs",
    "Lease": "leases",
    "Namespace": "namespaces",
    "PersistentVolume": "persistentvolumes",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "Secret": "secrets",
    "Service": "services",
    "ServiceAccount": "serviceaccounts",
    "Engine": "engines",
    "Allocation": "allocations",
    "CircuitBreakerPolicy": "circuitbreakerpolicies",
    "ModelTraining": "modeltrainings",
    "Backtest": "backtests",
}


class KubeError(Exception):
    """A Kubernetes API call failed; `status` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class NotFound(KubeError):
    pass


class Conflict(KubeError):
    pass


def resource_path(
    api_version: str, kind: str, namespace: str | None, name: str | None = None
) -> str:
    """The REST path of a kind (and object), e.g. /apis/apps/v1/namespaces/x/deployments/y."""
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = base + (f"/namespaces/{namespace}" if namespace else "") + f"/{_PLURALS[kind]}"
    return path + (f"/{name}" if name else "")


def resource_of(path: str) -> str:
    """The resource a REST path names: deployments in /apis/apps/v1/namespaces/x/deployments/y."""
    parts = path.split("?")[0].strip("/").split("/")
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if len(rest) > 2 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        rest = rest[2:]  # in a namespace, not one of the namespace's own subresources
    return rest[0] if rest else ""


@dataclass
class KubeClient:
    """Talks to one API server with the credentials kubeconfig or the pod's service account give.

    The HTTP client (lightkube's authentication on httpx) is opened on first use, in the event
    loop that uses it, and again after `close`."""

    host: str
    open_http: Callable[[], httpx2.AsyncClient]
    headers: dict[str, str] = field(default_factory=dict)
    """Sent with every request (e.g. a User-Agent a benchmark finds its calls by)."""
    _http: httpx2.AsyncClient | None = None

    @classmethod
    def from_environment(cls) -> KubeClient:
        """In-cluster config inside a pod, else every $KUBECONFIG path merged (~/.kube/config)."""
        config = load_config()
        return cls(
            host=config.cluster.server.rstrip("/"),
            open_http=lambda: connect(config, timeout_s=30.0, connections=CONNECTIONS),
        )

    @classmethod
    def unauthenticated(cls, host: str) -> KubeClient:
        """A client of a plain-HTTP server that asks for no credentials (a test's stand-in)."""
        return cls(host=host, open_http=lambda: httpx2.AsyncClient(base_url=host))

    @property
    def http(self) -> httpx2.AsyncClient:
        if self._http is None:
            self._http = self.open_http()
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def request(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        *,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> Obj:
        API_CALLS.labels(method, resource_of(path)).inc()
        try:
            response = await self.http.request(
                method,
                path,
                content=json.dumps(body).encode() if body is not None else None,
                params=params,
                headers={**self.headers, "Content-Type": content_type},
            )
        except (httpx2.HTTPError, ConfigError) as error:
            raise KubeError(0, f"{method} {path}: {error!r}") from error
        if response.status_code >= 400:
            raise _error(response.status_code, response.text)
        return dict(response.json()) if response.content else {}

    # -- verbs ---------------------------------------------------------------------------------

    async def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj:
        return await self.request("GET", resource_path(api_version, kind, namespace, name))

    async def get_or_none(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> Obj | None:
        try:
            return await self.get(api_version, kind, namespace, name)
        except NotFound:
            return None

    async def apply(self, obj: Obj) -> Obj:
        """Server-side apply `obj` as the operator's field manager, taking over conflicts."""
        meta = obj["metadata"]
        path = resource_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        return await self.request(
            "PATCH",
            path,
            obj,
            content_type="application/apply-patch+yaml",
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
        )

    async def merge_patch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        patch: Obj,
        *,
        subresource: str | None = None,
    ) -> Obj:
        path = resource_path(api_version, kind, namespace, name)
        if subresource:
            path += f"/{subresource}"
        return await self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    async def replace(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        path = resource_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        return await self.request("PUT", path, obj)

    async def create(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        path = resource_path(obj["apiVersion"], obj["kind"], meta.get("namespace"))
        return await self.request("POST", path, obj)

    async def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> None:
        try:
            await self.request("DELETE", resource_path(api_version, kind, namespace, name))
        except NotFound:
            return


def _error(status: int, text: str) -> KubeError:
    try:
        message = str(json.loads(text).get("message", text))
    except ValueError:
        message = text
    if status == 404:
        return NotFound(status, message)
    if status == 409:
        return Conflict(status, message)
    return KubeError(status, message)
