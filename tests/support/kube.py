"""kubectl-level helpers the cluster tests share."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from typing import Any, Self

from eternal_operator.devtools.controlplane import ControlPlane


def apply(plane: ControlPlane, ns: str, obj: dict[str, Any]) -> None:
    plane.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(obj))


def get(plane: ControlPlane, kind: str, name: str, ns: str) -> dict[str, Any] | None:
    """The object, or None when it does not exist."""
    out = plane.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


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


def patch_runtime(plane: ControlPlane, ns: str, engine: str, runtime: dict[str, Any]) -> None:
    """Write `status.runtime` the way a runtime does: a merge patch of the status subresource."""
    plane.kubectl(
        "patch", "engine", engine, "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"runtime": runtime}}), check=False,
    )  # fmt: skip


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
