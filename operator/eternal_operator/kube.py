"""A small async Kubernetes REST client for the operator's own objects.

kopf watches and patches the Engine itself; this client reads and writes what the operator owns
(Deployments, ConfigMaps, Services, RBAC, Secrets, Leases). Writes are server-side apply with the
operator's field manager, so re-applying an unchanged object is a no-op on the server. Every call
is counted in `eternal_operator_api_calls_total`, which the benchmark reports per reconcile.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from eternal_operator.metrics import API_CALLS

FIELD_MANAGER = "eternal-engine-operator"

CONNECTIONS = 64
"""Concurrent requests, each on its own connection (HTTP/1.1). A directive goes to every engine
of a fleet at once, competing at the API server with the runtimes' own writes: at 50 engines on
the local stack, a limit of 8 made the last engine wait longer."""
KEEPALIVE_S = 75.0
"""How long an idle connection is kept for reuse (a TLS handshake costs the API server more than
a status PATCH): under the API server's own idle timeout (90 s)."""

Obj = dict[str, Any]

_PLURALS = {
    "ConfigMap": "configmaps",
    "Deployment": "deployments",
    "Event": "events",
    "Job": "jobs",
    "Lease": "leases",
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


@dataclass
class KubeClient:
    """Talks to one API server with the credentials kubeconfig or the pod's service account give."""

    host: str
    headers: dict[str, str]
    ssl_context: ssl.SSLContext | bool
    _session: aiohttp.ClientSession | None = None

    @classmethod
    def from_environment(cls) -> KubeClient:
        """In-cluster config inside a pod, else $KUBECONFIG / ~/.kube/config."""
        configuration = k8s_client.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except k8s_config.ConfigException:
            # $KUBECONFIG now, not as the library saw it when first imported.
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration
            )
        headers = {"Accept": "application/json"}
        token = configuration.api_key.get("authorization") or configuration.api_key.get(
            "BearerToken"
        )
        if token:
            prefix = configuration.api_key_prefix.get("authorization", "")
            headers["Authorization"] = f"{prefix} {token}".strip()
            if not headers["Authorization"].lower().startswith("bearer"):
                headers["Authorization"] = f"Bearer {token}"
        if configuration.verify_ssl:
            context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
            if configuration.cert_file:
                context.load_cert_chain(configuration.cert_file, configuration.key_file)
            ssl_context: ssl.SSLContext | bool = context
        else:
            ssl_context = False
        return cls(host=configuration.host.rstrip("/"), headers=headers, ssl_context=ssl_context)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        *,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> Obj:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=30),
                connector=aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=KEEPALIVE_S),
            )
        API_CALLS.labels(method).inc()
        data = json.dumps(body) if body is not None else None
        try:
            async with self._session.request(
                method,
                self.host + path,
                data=data,
                params=params,
                headers={"Content-Type": content_type},
                ssl=self.ssl_context,
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise _error(response.status, text)
                return dict(json.loads(text)) if text else {}
        except aiohttp.ClientError as error:
            raise KubeError(0, f"{method} {path}: {error}") from error

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
