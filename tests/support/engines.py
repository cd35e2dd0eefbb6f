"""The Engine controller's cluster tests' common parts: an operator of their own, Engines,
their status, Events and runtime Deployment, SUB1's keys and orders on the paper venue, and a
stand-in for a live runtime's heartbeat."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eternal_operator.devtools.controlplane import ControlPlane
from support import kube, processes
from support.kube import get, secret
from support.processes import Operator, Venue
from support.waiting import wait_for


def leading_operator(
    plane: ControlPlane, venue: Venue, log: Path, prefix: str, **overrides: str
) -> Operator:
    """An operator of its own for namespaces `<prefix>-*`, leading once this returns."""
    op = processes.start_operator(
        plane.kubeconfig, venue, log, name=f"op-{prefix}", namespaces=f"{prefix}-*",
        lease_name=f"{prefix}-tests", **overrides,
    )  # fmt: skip
    wait_for(lambda: "leads via Lease" in op.text(), 30, "the operator to lead")
    return op


def engine_manifest(name: str, **spec: Any) -> dict[str, Any]:
    base = {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": processes.fresh_uid()}
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1",
        "kind": "Engine",
        "metadata": {"name": name},
        "spec": {**base, **spec},
    }


def sub1_secret(plane: ControlPlane, ns: str, name: str = "sub1-keys", **keys: str) -> None:
    secret(
        plane, ns, name, keys or {"apiKey": processes.SUB1_KEY, "apiSecret": processes.SUB1_SECRET}
    )


SUB1_CREDS = {"secretName": "sub1-keys"}


def engine_when(
    plane: ControlPlane, ns: str, name: str, test: Any, what: str, timeout: float = 20
) -> dict[str, Any]:
    """Wait until the Engine exists and `test(engine)` holds; return the Engine."""

    def probe() -> dict[str, Any] | None:
        engine = get(plane, "engine", name, ns)
        return engine if engine is not None and test(engine) else None

    return wait_for(probe, timeout, what)


def phase(engine: dict[str, Any]) -> str | None:
    return engine.get("status", {}).get("phase")


def condition(engine: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for c in (engine or {}).get("status", {}).get("conditions", []):
        if c["type"] == kind:
            return dict(c)
    return {}


def events(plane: ControlPlane, ns: str, name: str) -> list[dict[str, Any]]:
    out = plane.kubectl(
        "get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}", "-o", "json"
    ).stdout
    return list(json.loads(out)["items"])


def reasons(plane: ControlPlane, ns: str, name: str) -> list[str]:
    return [e["reason"] for e in events(plane, ns, name)]


def replicas(plane: ControlPlane, ns: str, engine: str) -> int | None:
    dep = get(plane, "deployment", f"{engine}-runtime", ns)
    return None if dep is None else int(dep["spec"]["replicas"])


def gone_before_the_next_test(plane: ControlPlane, ns: str, name: str) -> None:
    """Delete the Engine and wait until it is gone: its deletion cancels on the sub1 account the
    tests share, and left to the namespace's teardown it can cancel the next test's resting
    order."""
    plane.kubectl("delete", "engine", name, "-n", ns, "--wait=false")
    wait_for(lambda: get(plane, "engine", name, ns) is None, 30, "the Engine gone")


def resting_order(session: Any) -> str:
    placed = session.place_order(
        category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001",
        price="20000", timeInForce="GTC",
    )  # fmt: skip
    order_id = str(placed["result"]["orderId"])
    assert open_orders(session) == [order_id]
    return order_id


def open_orders(session: Any) -> list[str]:
    result = session.get_open_orders(category="spot", symbol="BTCUSDT")["result"]["list"]
    return [str(o["orderId"]) for o in result]


class FakeRuntimeHeartbeat(kube.StandInRuntime):
    """Plays the runtime's side of the contract: a fresh heartbeat every half second."""

    def __init__(self, plane: ControlPlane, ns: str, name: str) -> None:
        super().__init__(plane, ns)
        self.name = name

    def report(self, **fields: Any) -> None:
        runtime = {"heartbeat": now_stamp(), "venueConnected": True, **fields}
        kube.patch_runtime(self.plane, self.ns, self.name, runtime)


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
