"""The plugin's connection to the cluster, through the official `kubernetes` client.

Configuration is resolved as kubectl resolves it: `--kubeconfig` (one file), else `$KUBECONFIG`
(several paths joined by ':', merged), else `~/.kube/config`, else the in-cluster service
account; `--context` picks a context; the namespace is `-n`, else the context's, else `default`.
Every API failure becomes a `CliError` with a sentence a person can act on (no traceback).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from eternal_kernel.api.v1alpha1 import GROUP, VERSION

Obj = dict[str, Any]

FIELD_MANAGER = "kubectl-eternal"
ENGINE_LABEL = f"{GROUP}/engine"
"""The label the operator puts on every object of an Engine, its runtime's pods included."""

PLURALS = {
    "Engine": "engines",
    "Allocation": "allocations",
    "CircuitBreakerPolicy": "circuitbreakerpolicies",
}


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


def _config_file(kubeconfig: str | None) -> str:
    return kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _has_kubeconfig(path: str) -> bool:
    return any(os.path.exists(os.path.expanduser(p)) for p in path.split(os.pathsep) if p)


class Cluster:
    """The API calls the plugin makes; each returns plain JSON-shaped dicts."""

    def __init__(self, api: k8s_client.ApiClient, namespace: str, where: str) -> None:
        self.api = api
        self.namespace = namespace
        self.where = where
        self.custom = k8s_client.CustomObjectsApi(api)
        self._core: Any = None

    @property
    def core(self) -> Any:
        """CoreV1Api, made on first use: its module is the client's largest (status needs none)."""
        if self._core is None:
            self._core = k8s_client.CoreV1Api(self.api)
        return self._core

    @classmethod
    def connect(
        cls, *, kubeconfig: str | None, context: str | None, namespace: str | None
    ) -> Cluster:
        configuration = k8s_client.Configuration()
        path = _config_file(kubeconfig)
        default_ns = "default"
        try:
            if kubeconfig or _has_kubeconfig(path) or "KUBERNETES_SERVICE_HOST" not in os.environ:
                if not _has_kubeconfig(path):
                    raise CliError(f"no kubeconfig at {path}: set KUBECONFIG or pass --kubeconfig")
                k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=path, context=context, client_configuration=configuration
                )
                contexts, current = k8s_config.list_kube_config_contexts(path)  # type: ignore[no-untyped-call]
                chosen = next((c for c in contexts if c.get("name") == context), None)
                default_ns = ((chosen or current or {}).get("context") or {}).get(
                    "namespace"
                ) or "default"
            else:
                k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                ns_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
                if os.path.exists(ns_file):
                    with open(ns_file) as f:
                        default_ns = f.read().strip() or "default"
        except k8s_config.ConfigException as error:
            raise CliError(f"cannot read the kubeconfig: {error}") from None
        configuration.retries = 1
        return cls(k8s_client.ApiClient(configuration), namespace or default_ns, configuration.host)

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    def _plain(self, model: Any) -> Obj:
        return dict(self.api.sanitize_for_serialization(model))  # type: ignore[no-untyped-call]

    # -- the calls ------------------------------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ApiException as error:
            raise api_error(what, error.status, _message(error)) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise CliError(
                f"cannot reach the API server at {self.where}: {_reason(error)}"
            ) from None

    def items(self, kind: str, target: Target) -> list[Obj]:
        what = f"list {PLURALS[kind]}"
        if target.all_namespaces:
            answer = self._call(
                what, self.custom.list_cluster_custom_object, GROUP, VERSION, PLURALS[kind]
            )
        else:
            answer = self._call(
                what,
                self.custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                target.namespace,
                PLURALS[kind],
            )
        return list(answer.get("items") or [])

    def get(self, kind: str, namespace: str, name: str) -> Obj:
        return dict(
            self._call(
                f"get {kind} {namespace}/{name}",
                self.custom.get_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURALS[kind],
                name,
            )
        )

    def merge_patch(self, kind: str, namespace: str, name: str, patch: Obj) -> Obj:
        # A dict body goes out as a JSON merge patch (the client picks it for custom objects).
        return dict(
            self._call(
                f"patch {kind} {namespace}/{name}",
                self.custom.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURALS[kind],
                name,
                patch,
                field_manager=FIELD_MANAGER,
            )
        )

    def events(self, namespace: str, uid: str, reason: str | None = None) -> list[Obj]:
        selector = f"involvedObject.uid={uid}" + (f",reason={reason}" if reason else "")
        answer = self._call(
            f"list events in {namespace}",
            self.core.list_namespaced_event,
            namespace,
            field_selector=selector,
        )
        return [self._plain(e) for e in answer.items or []]

    def pods(self, namespace: str, engine: str) -> list[Obj]:
        answer = self._call(
            f"list pods in {namespace}",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=f"{ENGINE_LABEL}={engine}",
        )
        return [self._plain(p) for p in answer.items or []]

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
        kwargs: dict[str, Any] = {"follow": follow, "previous": previous, "_preload_content": False}
        if container:
            kwargs["container"] = container
        if tail is not None:
            kwargs["tail_lines"] = tail
        if since_seconds is not None:
            kwargs["since_seconds"] = since_seconds
        response = self._call(
            f"read the logs of pod {namespace}/{pod}",
            self.core.read_namespaced_pod_log,
            pod,
            namespace,
            **kwargs,
        )
        try:
            yield from response.stream(4096, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise CliError(f"the log stream of {namespace}/{pod} broke: {_reason(error)}") from None
        finally:
            response.release_conn()


def api_error(what: str, status: int | None, message: str) -> CliError:
    """One sentence for a failed API call, by its HTTP status."""
    if status == 404:
        return CliError(f"cannot {what}: not found ({message})")
    if status == 401:
        return CliError(f"cannot {what}: unauthorized; the kubeconfig's credentials are refused")
    if status == 403:
        return CliError(f"cannot {what}: forbidden ({message})")
    return CliError(f"cannot {what}: {status} {message}".rstrip())


def _message(error: ApiException) -> str:
    import json

    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason or "")
    except ValueError:
        return str(error.body or error.reason or "")


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason or error) or type(error).__name__
