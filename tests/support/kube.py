"""kubectl-level helpers the cluster tests share."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Self

from eternal_operator.devtools.controlplane import ControlPlane


def apply(plane: ControlPlane, ns: str, obj: dict[str, Any]) -> None:
    plane.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(obj))


def get(plane: ControlPlane, kind: str, name: str, ns: str) -> dict[str, Any] | None:
    """The object, or None when it does not exist."""
    out = plane.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def managed_fields(plane: ControlPlane, ns: str, name: str) -> list[dict[str, Any]]:
    """An Engine's `metadata.managedFields` (kubectl hides them unless asked)."""
    out = plane.kubectl("get", "engine", name, "-n", ns, "-o", "json", "--show-managed-fields")
    return list(json.loads(out.stdout)["metadata"].get("managedFields") or [])


def secret(plane: ControlPlane, ns: str, name: str, data: dict[str, str]) -> None:
    apply(plane, ns, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    })  # fmt: skip


def drop_engines(plane: ControlPlane, ns: str) -> None:
    """Delete a test namespace's Engines now, without an operator to run their finalizers (a
    module whose operator is gone): their subaccount claims then have no holder, and the next
    test's Engines naming the same subaccounts take them over."""
    out = plane.kubectl("get", "engines", "-n", ns, "-o", "name", check=False).stdout.split()
    for engine in out:
        plane.kubectl("patch", engine, "-n", ns, "--type=merge",
                      "-p", '{"metadata":{"finalizers":null}}', check=False)  # fmt: skip
    if out:
        plane.kubectl("delete", "engines", "--all", "-n", ns, "--wait=true", "--timeout=30s",
                      check=False)  # fmt: skip


def measured_now() -> str:
    """A status timestamp to the microsecond, as runtimes write them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


ENGINE_PATH = "/apis/trading.eternal-engine.io/v1alpha1/namespaces/{ns}/engines/{name}"
POLICY_PATH = (
    "/apis/trading.eternal-engine.io/v1alpha1/namespaces/{ns}/circuitbreakerpolicies/{name}"
)


def _api(plane: ControlPlane, method: str, path: str, body: object = None) -> Any:
    """One request to the API server, as a runtime makes it (HTTP, no kubectl process: the
    stand-ins report every fraction of a second, and a process per report would lag on a busy
    machine past the operator's patience with a quiet runtime). None when refused or absent."""
    request = urllib.request.Request(
        plane.server + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {plane.token}",
            "Content-Type": "application/merge-patch+json",
        },
    )
    context = ssl.create_default_context(cafile=str(plane.ca_file))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, TimeoutError):  # HTTPError included
        return None


def engine_of(plane: ControlPlane, ns: str, name: str) -> dict[str, Any] | None:
    """The Engine as a runtime reads it, or None."""
    found: dict[str, Any] | None = _api(plane, "GET", ENGINE_PATH.format(ns=ns, name=name))
    return found


def policy_of(plane: ControlPlane, ns: str, name: str) -> dict[str, Any] | None:
    """The CircuitBreakerPolicy as a runtime reads it, or None."""
    found: dict[str, Any] | None = _api(plane, "GET", POLICY_PATH.format(ns=ns, name=name))
    return found


def first_policy_version(
    plane: ControlPlane,
    ns: str,
    name: str,
    since: str,
    wanted: Callable[[dict[str, Any]], bool],
    timeout_s: int = 20,
) -> dict[str, Any] | None:
    """The first version of the policy after resourceVersion `since` for which `wanted(policy)`
    holds, from a watch (every version, however soon the next one follows), or None."""
    collection = POLICY_PATH.format(ns=ns, name="").rstrip("/")
    query = f"?watch=1&resourceVersion={since}&fieldSelector=metadata.name%3D{name}"
    request = urllib.request.Request(
        f"{plane.server}{collection}{query}&timeoutSeconds={timeout_s}",
        headers={"Authorization": f"Bearer {plane.token}"},
    )
    context = ssl.create_default_context(cafile=str(plane.ca_file))
    with urllib.request.urlopen(request, context=context, timeout=timeout_s + 10) as response:
        for line in response:
            policy: dict[str, Any] = json.loads(line).get("object") or {}
            if wanted(policy):
                return policy
    return None


def engines_at(plane: ControlPlane, ns: str, resource_version: str) -> list[dict[str, Any]]:
    """The namespace's Engines as they were at `resource_version` exactly (etcd keeps them)."""
    collection = ENGINE_PATH.format(ns=ns, name="").rstrip("/")
    query = f"?resourceVersion={resource_version}&resourceVersionMatch=Exact"
    found = _api(plane, "GET", collection + query) or {}
    return list(found.get("items") or [])


def patch_runtime(plane: ControlPlane, ns: str, engine: str, runtime: dict[str, Any]) -> None:
    """Write `status.runtime` the way a runtime does: a merge patch of the status subresource."""
    path = ENGINE_PATH.format(ns=ns, name=engine) + "/status"
    _api(plane, "PATCH", path, {"status": {"runtime": runtime}})


class StandInRuntime:
    """Plays runtimes' side of the status contract from a thread: `report()` on entry, then
    every `every` seconds until exit. Subclasses say what a report is."""

    every = 0.5

    def __init__(self, plane: ControlPlane, ns: str) -> None:
        self.plane, self.ns = plane, ns
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def report(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.report()

    def __enter__(self) -> Self:
        self.report()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
