"""The plugin's connection to the cluster: the kernel's kubeconfig, a sync httpx2 client.

Configuration is resolved as the operator resolves it (eternal_kernel.kube.kubeconfig, lightkube's
authentication: token files re-read on a 401, exec credential plugins, client certificates):
`--kubeconfig` (one file), else `$KUBECONFIG` (several paths joined by ':', merged as kubectl
merges them), else `~/.kube/config`, else the in-cluster service account; `--context` picks a
context; the namespace is `-n`, else the context's, else `default`. Every API failure becomes a
`CliError` with a sentence a person can act on (no traceback).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from eternal_kernel.api.v1alpha1 import GROUP, VERSION
from eternal_kernel.kube.kubeconfig import KubeconfigError, kubeconfig_paths, load_config

Obj = dict[str, Any]

FIELD_MANAGER = "kubectl-eternal"
ENGINE_LABEL = f"{GROUP}/engine"
"""The label the operator puts on every object of an Engine, its runtime's pods included."""

PLURALS = {
    "Engine": "engines",
    "Allocation": "allocations",
    "CircuitBreakerPolicy": "circuitbreakerpolicies",
}
CUSTOM = f"/apis/{GROUP}/{VERSION}"
TIMEOUT = httpx2.Timeout(30.0)
STREAM_TIMEOUT = httpx2.Timeout(30.0, read=None)
"""A followed log waits as long as the pod is quiet."""


class CliError(Exception):
    """A failure to report in one sentence, with exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    """Where the command acts: the namespace, or every namespace (`-A`)."""

    namespace: str
    all_namespaces: bool = False


class Cluster:
    """The API calls the plugin makes; each returns plain JSON-shaped dicts."""

    def __init__(self, http: httpx2.Client, namespace: str, where: str) -> None:
        self.http = http
        self.namespace = namespace
        self.where = where

    @classmethod
    def connect(
        cls, *, kubeconfig: str | None, context: str | None, namespace: str | None
    ) -> Cluster:
        from lightkube.config.client_adapter import ConnectionParams
        from lightkube.core.exceptions import ConfigError

        # kubectl's order: a kubeconfig that exists wins over the pod's service account
        present = [path for path in kubeconfig_paths() if path.exists()]
        paths = [Path(kubeconfig).expanduser()] if kubeconfig else present or None
        try:
            config = load_config(paths=paths, context=context)
            settings = ConnectionParams(timeout=TIMEOUT, trust_env=False).httpx_params(config)
        except KubeconfigError as error:
            raise CliError(f"{error}: set KUBECONFIG or pass --kubeconfig") from None
        except (ConfigError, OSError) as error:
            raise CliError(f"cannot use the kubeconfig: {error}") from None
        http = httpx2.Client(**settings)
        http.headers["Accept"] = "application/json"
        return cls(http, namespace or config.namespace, config.cluster.server)

    def close(self) -> None:
        self.http.close()

    # -- the calls ------------------------------------------------------------------------------

    def _request(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        from lightkube.core.exceptions import ConfigError

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx2.TransportError as error:
            raise self._unreachable(error) from None
        except ConfigError as error:  # an exec credential plugin failed
            raise CliError(f"cannot {what}: cannot authenticate: {error}") from None
        if response.is_error:
            raise api_error(what, response.status_code, _message(response.text, response))
        return response.json()

    def _unreachable(self, error: BaseException) -> CliError:
        return CliError(f"cannot reach the API server at {self.where}: {_reason(error)}")

    def items(self, kind: str, target: Target) -> list[Obj]:
        plural = PLURALS[kind]
        where = "" if target.all_namespaces else f"/namespaces/{target.namespace}"
        answer = self._request(f"list {plural}", "GET", f"{CUSTOM}{where}/{plural}")
        return list(answer.get("items") or [])

    def get(self, kind: str, namespace: str, name: str) -> Obj:
        path = f"{CUSTOM}/namespaces/{namespace}/{PLURALS[kind]}/{name}"
        return dict(self._request(f"get {kind} {namespace}/{name}", "GET", path))

    def merge_patch(self, kind: str, namespace: str, name: str, patch: Obj) -> Obj:
        path = f"{CUSTOM}/namespaces/{namespace}/{PLURALS[kind]}/{name}"
        return dict(
            self._request(
                f"patch {kind} {namespace}/{name}",
                "PATCH",
                path,
                content=json.dumps(patch),
                headers={"Content-Type": "application/merge-patch+json"},
                params={"fieldManager": FIELD_MANAGER},
            )
        )

    def events(self, namespace: str, uid: str, reason: str | None = None) -> list[Obj]:
        selector = f"involvedObject.uid={uid}" + (f",reason={reason}" if reason else "")
        answer = self._request(
            f"list events in {namespace}",
            "GET",
            f"/api/v1/namespaces/{namespace}/events",
            params={"fieldSelector": selector},
        )
        return list(answer.get("items") or [])

    def pods(self, namespace: str, engine: str) -> list[Obj]:
        answer = self._request(
            f"list pods in {namespace}",
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            params={"labelSelector": f"{ENGINE_LABEL}={engine}"},
        )
        return list(answer.get("items") or [])

    def pod_log(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None,
        follow: bool,
        tail: int | None,
        previous: bool,
        since_seconds: int | None,
    ) -> Iterator[bytes]:
        """The pod log endpoint's bytes as they arrive (`follow` keeps the stream open)."""
        params: dict[str, str | int] = {
            "follow": str(follow).lower(),
            "previous": str(previous).lower(),
        }
        if container:
            params["container"] = container
        if tail is not None:
            params["tailLines"] = tail
        if since_seconds is not None:
            params["sinceSeconds"] = since_seconds
        what = f"read the logs of pod {namespace}/{pod}"
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        request = self.http.build_request("GET", path, params=params, timeout=STREAM_TIMEOUT)
        try:
            response = self.http.send(request, stream=True)
        except httpx2.TransportError as error:
            raise self._unreachable(error) from None
        try:
            if response.is_error:
                text = response.read().decode(errors="replace")
                raise api_error(what, response.status_code, _message(text, response))
            yield from response.iter_bytes(4096)
        except httpx2.TransportError as error:
            raise CliError(f"the log stream of {namespace}/{pod} broke: {_reason(error)}") from None
        finally:
            response.close()


def api_error(what: str, status: int | None, message: str) -> CliError:
    """One sentence for a failed API call, by its HTTP status."""
    if status == 404:
        return CliError(f"cannot {what}: not found ({message})")
    if status == 401:
        return CliError(f"cannot {what}: unauthorized; the kubeconfig's credentials are refused")
    if status == 403:
        return CliError(f"cannot {what}: forbidden ({message})")
    return CliError(f"cannot {what}: {status} {message}".rstrip())


def _message(text: str, response: httpx2.Response) -> str:
    """The API server's Status message, else the body, else the reason phrase."""
    try:
        return str(json.loads(text or "{}").get("message") or response.reason_phrase or "")
    except (ValueError, AttributeError):
        return text or response.reason_phrase


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__
