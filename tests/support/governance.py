"""Governance cluster tests' common parts: an operator of their own, namespaces, engines and
policies, and stand-in runtimes that play the status contract (equity, heartbeat, flat)."""

from __future__ import annotations

import secrets
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eternal_operator.devtools.controlplane import ControlPlane
from support import kube, processes
from support.kube import apply, get, secret
from support.processes import Operator, Venue
from support.waiting import wait_for

PREFIX = "gov"
LABEL = {"trading.eternal-engine.io/portfolio": "p1"}


def start(
    plane: ControlPlane,
    venue: Venue,
    log: Path,
    *,
    name: str = "",
    prefix: str = PREFIX,
    interval: str = "0.2",
    **overrides: str,
) -> Operator:
    """An operator of its own for namespaces `<prefix>-*`, leading once this returns."""
    op = processes.start_operator(
        plane.kubeconfig, venue, log, name=name or f"{prefix}-{secrets.token_hex(2)}",
        namespaces=f"{prefix}-*", lease_name=f"{prefix}-tests",
        governance_interval_seconds=interval, **overrides,
    )  # fmt: skip
    wait_for(lambda: "leads via Lease" in op.text(), 30, "the operator to lead")
    return op


def emergency_halt(plane: ControlPlane, ns: str, on: bool) -> None:
    plane.kubectl(
        "patch", "cbp", "eternal", "-n", ns, "--type=merge",
        "-p", f'{{"spec":{{"emergencyHalt":{"true" if on else "false"}}}}}',
    )  # fmt: skip


@contextmanager
def own_namespace(plane: ControlPlane, prefix: str) -> Iterator[str]:
    name = f"{prefix}-{secrets.token_hex(4)}"
    plane.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def engine(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
        "metadata": {"name": name, "labels": LABEL},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": processes.fresh_uid(),
                 "credentials": {"secretName": "sub1-keys"}, **spec},
    }  # fmt: skip


def policy(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "CircuitBreakerPolicy",
        "metadata": {"name": "eternal"},
        "spec": {"selector": {"matchLabels": LABEL}, "cooldownSeconds": 0,
                 "dailyLossLimit": 0.9, "weeklyLossLimit": 0.95, "haltDeadlineSeconds": 3, **spec},
    }  # fmt: skip


def keys(plane: ControlPlane, ns: str) -> None:
    secret(
        plane, ns, "sub1-keys", {"apiKey": processes.SUB1_KEY, "apiSecret": processes.SUB1_SECRET}
    )


class Runtimes(kube.StandInRuntime):
    """Plays the engines' runtimes: reports equity and heartbeat; applies each directive and
    confirms flat when halted, unless told to ignore halts (`obey`) or to stop applying
    directives (`applies`: the directive applied stays the last one, the flat report goes on)."""

    every = 0.3

    def __init__(self, plane: ControlPlane, ns: str, equities: dict[str, str]) -> None:
        super().__init__(plane, ns)
        self.equity = dict(equities)
        self.obey = True
        self.applies = True
        self.applied: dict[str, int] = {}
        self.reports = 0

    def report(self) -> None:
        for name, equity in list(self.equity.items()):  # a test may clear it meanwhile
            current = kube.engine_of(self.plane, self.ns, name) or {}
            directive = current.get("status", {}).get("governance") or {}
            if self.applies:
                self.applied[name] = directive.get("sequence", 0)
            kube.patch_runtime(self.plane, self.ns, name, {
                "equity": equity,
                "heartbeat": kube.measured_now(),
                "venueConnected": True,
                "appliedDirective": self.applied.get(name, 0),
                "flat": bool(directive.get("halt")) and self.obey,
            })  # fmt: skip
        self.reports += 1


@contextmanager
def governed(
    plane: ControlPlane, ns: str, equities: dict[str, str], **spec: Any
) -> Iterator[Runtimes]:
    """Engines with these equities, played by the test, under `policy(**spec)` once it has
    opened its book (a high-water mark of 1).

    The policy comes once every Engine is Running: the operator has then handled an event of
    each that carries its runtime's report, so the policy's first evaluation sees every equity
    (the book opens on it, not a tick later; a busy Engine worker delayed that past 30 s in CI,
    under an operator ticking every 60 s)."""
    keys(plane, ns)
    for name in equities:
        apply(plane, ns, engine(name))
    with Runtimes(plane, ns, equities) as runtimes:
        for name in equities:
            wait_for(lambda n=name: phase_of(plane, ns, n) == "Running", 30, f"{name} Running")
        apply(plane, ns, policy(**spec))
        wait_for(lambda: policy_status(plane, ns).get("highWaterMark") == "1", 30, "the book")
        yield runtimes


def directive(plane: ControlPlane, ns: str, name: str) -> dict[str, Any]:
    return dict(
        ((get(plane, "engine", name, ns) or {}).get("status") or {}).get("governance") or {}
    )


def phase_of(plane: ControlPlane, ns: str, name: str) -> str | None:
    return ((get(plane, "engine", name, ns) or {}).get("status") or {}).get("phase")


def policy_status(plane: ControlPlane, ns: str) -> dict[str, Any]:
    return dict((get(plane, "cbp", "eternal", ns) or {}).get("status") or {})


def metric(op: Operator, name: str, *labels: str) -> float:
    """The sum of the operator's series of `name` whose labels include every one of `labels`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics") as response:
        lines = response.read().decode().splitlines()
    series = [line for line in lines if line.startswith(name + "{")]
    return sum(float(s.rsplit(" ", 1)[1]) for s in series if all(lb in s for lb in labels))


def evaluations(op: Operator) -> float:
    """Policy evaluations this operator has made (its own metric), to wait on instead of time."""
    return metric(
        op, "eternal_operator_reconciles_total", 'kind="CircuitBreakerPolicy"',
        'result="evaluated"',
    )  # fmt: skip


def after_evaluations(op: Operator, count: int, probe: Any = None) -> None:
    """Return once the operator has made `count` more evaluations, calling `probe` meanwhile."""
    target = evaluations(op) + count

    def done() -> bool:
        if probe is not None:
            probe()
        return evaluations(op) >= target

    wait_for(done, 30, f"{count} more evaluations")
