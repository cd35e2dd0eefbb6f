"""Engines that cannot run, on a real kube-apiserver with the operator and the paper venue:
explained (a condition, an Event), retried with backoff, and still suspendable and deletable."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from support import processes
from support.engines import (
    SUB1_CREDS,
    condition,
    engine_manifest,
    engine_when,
    events,
    gone_before_the_next_test,
    open_orders,
    phase,
    reasons,
    replicas,
    resting_order,
    sub1_secret,
)
from support.kube import apply, get
from support.processes import Operator
from support.runtime import RuntimeProcess, pod_runtime
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

PREFIX = "efl"  # the namespaces and the operator of this module (conftest)


# -- failures: explained, retried with backoff, and still suspendable and deletable ---------------


def failed_attempts(plane: ControlPlane, ns: str, name: str) -> list[tuple[datetime, int]]:
    """(when, announced delay) of each ReconcileFailed Event, oldest first."""
    out = []
    for e in events(plane, ns, name):
        found = re.search(r"next attempt in (\d+)s", e["message"])
        if e["reason"] == "ReconcileFailed" and found:
            out.append((datetime.fromisoformat(e["eventTime"]), int(found.group(1))))
    return sorted(out)


def test_an_object_the_server_refuses_is_a_condition_an_event_and_a_backoff(
    control_plane: ControlPlane, ns: str, operator: Operator
) -> None:
    # A Deployment of the runtime's name already exists, with another selector: the server
    # refuses to change it (the selector is immutable), whatever the operator applies.
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "clash-runtime"},
        "spec": {
            "replicas": 0, "selector": {"matchLabels": {"app": "someone-else"}},
            "template": {"metadata": {"labels": {"app": "someone-else"}},
                         "spec": {"containers": [{"name": "c", "image": "example/other:1"}]}},
        },
    })  # fmt: skip
    logged = len(operator.text())

    apply(control_plane, ns, engine_manifest("clash", credentials=SUB1_CREDS))

    engine = engine_when(
        control_plane, ns, "clash",
        lambda e: condition(e, "Ready").get("reason") == "ObjectRefused", "ObjectRefused",
    )  # fmt: skip
    assert engine["status"]["phase"] == "Failed"
    ready = condition(engine, "Ready")
    assert ready["status"] == "False"
    assert f"the API server refused Deployment {ns}/clash-runtime" in ready["message"]
    assert "field is immutable" in ready["message"]
    attempts = wait_for(
        lambda: (a := failed_attempts(control_plane, ns, "clash")) and len(a) >= 4 and a, 40,
        "four failed attempts",
    )  # fmt: skip
    assert [delay for _, delay in attempts[:4]] == [1, 2, 4, 8]
    for (at, delay), (then, _) in itertools.pairwise(attempts[:4]):
        # Each attempt waits out the delay the last one announced: not every resync (2 s).
        assert (then - at).total_seconds() >= delay * 0.9, attempts
    failed = [e for e in events(control_plane, ns, "clash") if e["reason"] == "ReconcileFailed"]
    assert all(e["type"] == "Warning" for e in failed)
    assert "PhaseFailed" in reasons(control_plane, ns, "clash")
    assert "Traceback" not in operator.text()[logged:]

    control_plane.kubectl("delete", "deployment", "clash-runtime", "-n", ns)

    healed = engine_when(control_plane, ns, "clash", lambda e: phase(e) == "Starting", "healed", 40)
    assert condition(healed, "Ready")["reason"] == "RuntimeStarting"
    assert replicas(control_plane, ns, "clash") == 1
    gone_before_the_next_test(control_plane, ns, "clash")


def start_pod_runtime(
    plane: ControlPlane, ns: str, name: str, directory: Path, **keys: str
) -> RuntimeProcess:
    """The Engine's runtime, as its pod would run it (no kubelet here): the rendered config,
    the Secret's keys. It fails before it needs PostgreSQL or Redis: none is given."""
    wait_for(lambda: replicas(plane, ns, name) == 1, 20, "the runtime Deployment")
    config = get(plane, "configmap", f"{name}-config", ns)["data"]["engine.json"]  # type: ignore[index]
    runtime = pod_runtime(
        directory, engine=name, namespace=ns, config=config, kubeconfig=plane.kubeconfig,
        database_url="postgresql://127.0.0.1:1/unused", redis_url="redis://127.0.0.1:1/0",
        api_key=keys["apiKey"], api_secret=keys["apiSecret"],
    )  # fmt: skip
    runtime.start()
    assert runtime.process is not None
    assert runtime.process.wait(timeout=60) == 1, runtime.text()
    return runtime


def test_a_runtime_refused_by_the_venue_is_failed_then_suspended_and_deleted(
    control_plane: ControlPlane, ns: str, tmp_path: Path, operator: Operator
) -> None:
    ghost = {"apiKey": "GHOSTKEY0001", "apiSecret": "GHOSTSECRET000000000000000000001"}
    sub1_secret(control_plane, ns, name="ghost-keys", **ghost)
    apply(control_plane, ns, engine_manifest("ghost", credentials={"secretName": "ghost-keys"}))

    runtime = start_pod_runtime(control_plane, ns, "ghost", tmp_path / "ghost", **ghost)

    assert "cannot start: the venue refuses the API key: 10003" in runtime.text()
    assert "Traceback" not in runtime.text()
    engine = engine_when(control_plane, ns, "ghost", lambda e: phase(e) == "Failed", "Failed")
    start_error = engine["status"]["runtime"]["startError"]
    assert start_error["message"] == "the venue refuses the API key: 10003: API key is invalid."
    ready = condition(engine, "Ready")
    assert ready["reason"] == "RuntimeFailed"
    assert ready["message"] == f"the runtime cannot start: {start_error['message']}"
    failed = [e for e in events(control_plane, ns, "ghost") if e["reason"] == "PhaseFailed"]
    assert failed
    assert failed[0]["type"] == "Warning"
    assert "refuses the API key" in failed[0]["message"]
    for where in (json.dumps(engine), json.dumps(events(control_plane, ns, "ghost")),
                  runtime.text(), operator.text()):  # fmt: skip
        assert ghost["apiSecret"] not in where

    control_plane.kubectl(
        "patch", "engine", "ghost", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    wait_for(lambda: replicas(control_plane, ns, "ghost") == 0, 20, "scaled to zero")
    engine = engine_when(control_plane, ns, "ghost", lambda e: phase(e) == "Suspended", "Suspended")
    assert engine["status"]["shutdown"]["completedBy"] == "operator"
    said = {e["reason"]: e for e in events(control_plane, ns, "ghost")}
    assert "nothing was placed with it" in said["KeyUnknownToVenue"]["message"]
    assert said["KeyUnknownToVenue"]["type"] == "Warning"
    # Posted once each, though a timer pass and a change pass both saw the request missing.
    for reason in ("SuspendRequested", "OperatorCancelling", "KeyUnknownToVenue"):
        assert reasons(control_plane, ns, "ghost").count(reason) == 1, reason

    control_plane.kubectl("delete", "engine", "ghost", "-n", ns, "--wait=false")
    wait_for(lambda: get(control_plane, "engine", "ghost", ns) is None, 30, "the Engine gone")


def test_a_runtime_whose_symbol_is_not_listed_is_failed_and_deletable(
    control_plane: ControlPlane, ns: str, tmp_path: Path, venue_sub1: Any
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("nosym", symbols=["NOPEUSDT"], credentials=SUB1_CREDS))
    order_id = resting_order(venue_sub1)  # something for the operator to cancel on delete

    runtime = start_pod_runtime(
        control_plane, ns, "nosym", tmp_path / "nosym", **processes.SUB1_KEYS
    )

    assert "cannot start: the venue does not list NOPEUSDT (linear)" in runtime.text()
    engine = engine_when(control_plane, ns, "nosym", lambda e: phase(e) == "Failed", "Failed")
    assert condition(engine, "Ready")["reason"] == "RuntimeFailed"
    assert "does not list NOPEUSDT" in condition(engine, "Ready")["message"]

    control_plane.kubectl("delete", "engine", "nosym", "-n", ns, "--wait=false")

    wait_for(lambda: get(control_plane, "engine", "nosym", ns) is None, 30, "the Engine gone")
    assert order_id not in open_orders(venue_sub1)
    assert "OperatorCancelled" in reasons(control_plane, ns, "nosym")


def test_an_engine_that_cannot_run_still_suspends_and_deletes(
    control_plane: ControlPlane, ns: str
) -> None:
    # Its Secret goes after the runtime Deployment was made: no keys, and no live runtime.
    sub1_secret(control_plane, ns, name="brief-keys")
    apply(control_plane, ns, engine_manifest("orphan", credentials={"secretName": "brief-keys"}))
    wait_for(lambda: replicas(control_plane, ns, "orphan") == 1, 20, "one replica")
    control_plane.kubectl("delete", "secret", "brief-keys", "-n", ns)
    engine_when(control_plane, ns, "orphan", lambda e: phase(e) == "Failed", "Failed")

    control_plane.kubectl(
        "patch", "engine", "orphan", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )

    wait_for(lambda: replicas(control_plane, ns, "orphan") == 0, 20, "scaled to zero anyway")
    wait_for(lambda: "CancelFailed" in reasons(control_plane, ns, "orphan"), 20, "CancelFailed")
    assert phase(get(control_plane, "engine", "orphan", ns)) == "Failed"  # type: ignore[arg-type]
    sub1_secret(control_plane, ns, name="brief-keys")  # with its keys back, it can cancel
    engine_when(control_plane, ns, "orphan", lambda e: phase(e) == "Suspended", "Suspended", 30)
    assert "OperatorCancelled" in reasons(control_plane, ns, "orphan")

    # Never able to run (no Secret from the start, so never a Deployment): deletable at once.
    apply(control_plane, ns, engine_manifest("never", credentials={"secretName": "nowhere"}))
    engine_when(control_plane, ns, "never", lambda e: phase(e) == "Failed", "Failed")
    control_plane.kubectl("delete", "engine", "never", "-n", ns, "--wait=false")
    wait_for(lambda: get(control_plane, "engine", "never", ns) is None, 30, "the Engine gone")
    assert "NothingToCancel" in reasons(control_plane, ns, "never")
