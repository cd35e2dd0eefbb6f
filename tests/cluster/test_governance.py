"""Governance against a real kube-apiserver, with the operator and the paper venue running.

Runtimes are played by the test through the status contract (equity, heartbeat, flat): the
governance controller reads exactly what a runtime writes, and its own writes are checked."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from support import kube, processes
from support.governance import (
    PREFIX,
    Runtimes,
    after_evaluations,
    directive,
    emergency_halt,
    engine,
    governed,
    keys,
    metric,
    own_namespace,
    phase_of,
    policy,
    policy_status,
    start,
)
from support.kube import apply, get
from support.processes import Operator, Venue
from support.waiting import wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def gov_operator(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    op = start(control_plane, paper_venue, Path(tmp_path_factory.mktemp("gov")) / "op.log")
    yield op
    op.stop()


@pytest.fixture
def ns(control_plane: ControlPlane, gov_operator: Operator) -> Iterator[str]:
    with own_namespace(control_plane, PREFIX) as name:
        yield name


def test_a_30_percent_crash_walks_the_levels_in_order_and_ends_latched(
    control_plane: ControlPlane, gov_operator: Operator, ns: str
) -> None:
    with governed(control_plane, ns, {"a": "60000", "b": "40000"}) as runtimes:
        seen = []
        for total, expected in ((89000, 1), (84000, 2), (79000, 3), (74000, 4), (70000, 4)):
            runtimes.equity.update(a=str(total * 6 // 10), b=str(total * 4 // 10))

            def reached(expected: int = expected) -> int | None:
                level = int(directive(control_plane, ns, "a").get("level", 0))
                agreed = policy_status(control_plane, ns).get("level") == level
                return level if level >= expected and agreed else None

            seen.append(wait_for(reached, 15, f"level {expected} at {total}"))
        assert seen == [1, 2, 3, 4, 4]
        status = policy_status(control_plane, ns)
        assert status["halted"] is True
        assert [h["toLevel"] for h in status["history"] if h["toLevel"] != h["fromLevel"]] == [
            1,
            2,
            3,
            4,
        ]
        for name in ("a", "b"):
            wait_for(lambda n=name: directive(control_plane, ns, n).get("halt"), 10, "halt")
            wait_for(lambda n=name: phase_of(control_plane, ns, n) == "Halted", 15, "Halted")
        runtimes.equity.update(a="60000", b="40000")  # a full recovery does not release it
        after_evaluations(gov_operator, 5)  # five evaluations at the new equity keep the latch
        assert policy_status(control_plane, ns)["halted"] is True
        assert directive(control_plane, ns, "a")["halt"] is True


def test_emergency_halt_survives_a_revert_and_a_reset_releases_it(
    control_plane: ControlPlane, gov_operator: Operator, ns: str
) -> None:
    with governed(control_plane, ns, {"a": "50000"}):
        before = directive(control_plane, ns, "a").get("sequence", 0)

        started = time.monotonic()
        emergency_halt(control_plane, ns, True)
        wait_for(lambda: directive(control_plane, ns, "a").get("halt"), 10, "the halt")
        latency = time.monotonic() - started
        assert latency < 5, latency
        assert directive(control_plane, ns, "a")["sequence"] > before

        emergency_halt(control_plane, ns, False)
        after_evaluations(gov_operator, 5)  # five evaluations after the revert keep it halted
        assert directive(control_plane, ns, "a")["halt"] is True
        assert policy_status(control_plane, ns)["halted"] is True

        control_plane.kubectl(
            "annotate", "cbp", "eternal", "-n", ns, "trading.eternal-engine.io/reset=first"
        )
        wait_for(lambda: directive(control_plane, ns, "a").get("halt") is False, 10, "released")
        assert policy_status(control_plane, ns)["resetToken"] == "first"


def test_halt_and_hwm_survive_an_operator_restart(
    control_plane: ControlPlane, paper_venue: Venue, gov_operator: Operator, tmp_path: Path
) -> None:
    with own_namespace(control_plane, "rst") as ns:
        op = start(control_plane, paper_venue, tmp_path / "a.log", name="rst-a", prefix="rst")
        try:
            with governed(control_plane, ns, {"a": "100"}) as runtimes:
                runtimes.equity["a"] = "120"  # a new high
                wait_for(
                    lambda: policy_status(control_plane, ns).get("highWaterMark") == "1.2",
                    15, "1.2",
                )  # fmt: skip
                runtimes.equity["a"] = "80"  # 33% down: level 4, halted
                wait_for(lambda: policy_status(control_plane, ns).get("halted"), 15, "halted")
                op.process.kill()  # mid-halt
                op.process.wait(timeout=10)
                runtimes.equity["a"] = "125"  # would be a new high, and would not be halted
                op = start(
                    control_plane, paper_venue, tmp_path / "b.log", name="rst-b", prefix="rst"
                )
                wait_for(
                    lambda: policy_status(control_plane, ns).get("highWaterMark") == "1.25",
                    20, "evaluating",
                )  # fmt: skip
                status = policy_status(control_plane, ns)
                assert status["halted"] is True
                assert status["level"] == 4
                assert directive(control_plane, ns, "a")["halt"] is True
        finally:
            op.stop()


def test_an_emergency_halt_is_evaluated_on_the_patch_not_on_the_next_tick(
    control_plane: ControlPlane, paper_venue: Venue, gov_operator: Operator, tmp_path: Path
) -> None:
    """Neither governance's tick (60 s) nor the Engine's resync (an hour) is waited for: the
    patch is evaluated at once, and the Engine's phase follows the halt, the runtime's flat
    report and the reset as they happen."""
    with own_namespace(control_plane, "wake") as ns:
        op = start(control_plane, paper_venue, tmp_path / "op.log", prefix="wake", interval="60",
                   resync_seconds="3600")  # fmt: skip
        try:
            # The policy's first evaluation opens the book: the next tick is 60 s away.
            with governed(control_plane, ns, {"a": "100"}):  # Running, its book open
                started = time.monotonic()
                emergency_halt(control_plane, ns, True)
                wait_for(lambda: directive(control_plane, ns, "a").get("halt"), 20, "the halt")
                wait_for(lambda: phase_of(control_plane, ns, "a") == "Halted", 10, "Halted")
                assert time.monotonic() - started < 10
                # A phase that contradicts the Engine's own record and report (however it was
                # written) is put right by the Engine's next event, not at the resync.
                halting = '{"status": {"phase": "Halting"}}'
                control_plane.kubectl("patch", "engine", "a", "-n", ns, "--subresource=status",
                                      "--type=merge", "-p", halting)  # fmt: skip
                wait_for(lambda: phase_of(control_plane, ns, "a") == "Halted", 10, "Halted again")
                emergency_halt(control_plane, ns, False)
                wait_for(lambda: policy_status(control_plane, ns).get("halted"), 10, "halted")
                control_plane.kubectl(
                    "annotate", "cbp", "eternal", "-n", ns, "trading.eternal-engine.io/reset=now"
                )
                started = time.monotonic()
                wait_for(
                    lambda: directive(control_plane, ns, "a").get("halt") is False, 20, "reset"
                )
                wait_for(lambda: phase_of(control_plane, ns, "a") == "Running", 10, "Running")
                assert time.monotonic() - started < 10
        finally:
            op.stop()


def test_the_policy_says_its_records_are_written_only_once_every_engine_s_is(
    control_plane: ControlPlane, gov_operator: Operator, ns: str
) -> None:
    """Runtimes report a word once the policy's `recordedSequence` has it, so that a fleet's
    reports do not slow the records still going out: it must not have it before every record
    does (a halt's records wait up to half a second for the operator's own flatten). The first
    version of the policy that says so, from a watch, against the Engines as they were at that
    very version."""
    names = ("a", "b", "c")
    with governed(control_plane, ns, dict.fromkeys(names, "1000")):
        before = int(policy_status(control_plane, ns).get("directiveSequence") or 0)
        wait_for(lambda: policy_status(control_plane, ns).get("recordedSequence") == before, 10,
                 "the first evaluation's records said written")  # fmt: skip
        since = (kube.policy_of(control_plane, ns, "eternal") or {})["metadata"]["resourceVersion"]
        emergency_halt(control_plane, ns, True)
        first = kube.first_policy_version(
            control_plane, ns, "eternal", since,
            lambda p: ((p.get("status") or {}).get("recordedSequence") or 0) > before,
        )  # fmt: skip
        assert first is not None, "never said recorded"
        said = first["status"]["recordedSequence"]
        engines = kube.engines_at(control_plane, ns, first["metadata"]["resourceVersion"])
        records = {e["metadata"]["name"]: (e.get("status") or {}).get("governance") or {}
                   for e in engines}  # fmt: skip
        assert sorted(records) == sorted(names)
        assert [(r.get("sequence", 0) >= said, r.get("halt")) for r in records.values()] == [
            (True, True)
        ] * len(names), records


def test_a_runtime_that_ignores_its_halt_is_flattened_by_the_operator(
    control_plane: ControlPlane, ns: str, paper_venue: Venue
) -> None:
    venue = http_session(paper_venue.url, processes.SUB1_KEY, processes.SUB1_SECRET)
    keys(control_plane, ns)
    apply(control_plane, ns, engine("rogue"))
    wait_for(lambda: get(control_plane, "deployment", "rogue-runtime", ns), 20, "its Deployment")
    venue.place_order(
        category="linear", symbol="BTCUSDT", side="Sell", orderType="Market", qty="0.02"
    )
    with Runtimes(control_plane, ns, {"rogue": "10000"}) as runtimes:
        runtimes.obey = False
        apply(control_plane, ns, policy(emergencyHalt=True))
        wait_for(
            lambda: directive(control_plane, ns, "rogue").get("runtimeStopped"), 30, "flattened"
        )
    positions = venue.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert all(float(p["size"]) == 0 for p in positions)

    def replicas() -> int:
        return int(
            (get(control_plane, "deployment", "rogue-runtime", ns) or {})["spec"]["replicas"]
        )

    wait_for(lambda: replicas() == 0, 20, "scaled to zero")

    wait_for(lambda: phase_of(control_plane, ns, "rogue") == "Halted", 20, "phase Halted")
    out = control_plane.kubectl("get", "events", "-n", ns, "-o", "json").stdout
    assert "OperatorFlattened" in out


def test_a_flat_report_from_before_the_halt_does_not_make_the_engine_halted(
    control_plane: ControlPlane, gov_operator: Operator, ns: str
) -> None:
    """Halted only once the runtime reports flat having applied the halt's own directive: a
    report that says flat but names an older one (an idle engine's, or one that has not yet
    heard) leaves the Engine Halting. The deadline is out of the way: the operator does not
    step in."""
    with governed(control_plane, ns, {"a": "100"}, haltDeadlineSeconds=600) as runtimes:
        runtimes.applies = False  # it goes on reporting flat, under the last directive
        emergency_halt(control_plane, ns, True)
        wait_for(lambda: directive(control_plane, ns, "a").get("halt"), 10, "the halt")
        seen = runtimes.reports
        wait_for(lambda: runtimes.reports >= seen + 3, 10, "three reports under the halt")
        status = (get(control_plane, "engine", "a", ns) or {})["status"]
        assert status["runtime"]["flat"] is True
        assert status["runtime"]["appliedDirective"] < status["governance"]["sequence"]
        assert status["phase"] == "Halting"
        runtimes.applies = True
        wait_for(lambda: phase_of(control_plane, ns, "a") == "Halted", 10, "Halted")
        assert not directive(control_plane, ns, "a").get("runtimeStopped")


def allocation_passes(op: Operator) -> float:
    return metric(op, "eternal_operator_reconciles_total", 'kind="Allocation"')


def test_an_allocation_pass_writes_no_engine_while_a_halt_settles(
    control_plane: ControlPlane, gov_operator: Operator, ns: str
) -> None:
    """An Engine's allocation is a display, and a fleet's worth of its writes amid a halt's
    records, reports and phases slowed the halt (docs/governance.md "Weights"): a pass while
    the halt settles leaves the Engines as they were, and the first pass after shows them."""

    def shown(name: str) -> str | None:
        status = (get(control_plane, "engine", name, ns) or {}).get("status") or {}
        return (status.get("allocation") or {}).get("targetWeight")

    def targets(a: float) -> dict[str, Any]:
        return {
            "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Allocation",
            "metadata": {"name": "eternal"},
            "spec": {"targets": [{"engine": "a", "weight": a}, {"engine": "b", "weight": 0.4}],
                     "driftThreshold": 1, "calendarFallback": "none"},
        }  # fmt: skip

    def accepted() -> dict[str, float]:
        status = (get(control_plane, "alloc", "eternal", ns) or {}).get("status") or {}
        return {t["engine"]: t["weight"] for t in status.get("acceptedTargets") or []}

    with governed(control_plane, ns, {"a": "600", "b": "400"}, haltDeadlineSeconds=600) as rt:
        apply(control_plane, ns, targets(0.6))
        wait_for(lambda: shown("a") == "0.6" and shown("b") == "0.4", 15, "the weights shown")
        rt.applies = False  # the runtimes do not report the halt applied: it does not settle
        emergency_halt(control_plane, ns, True)
        wait_for(lambda: directive(control_plane, ns, "a").get("halt"), 10, "the halt")
        apply(control_plane, ns, targets(0.5))  # a lower target: accepted under a halt
        wait_for(lambda: accepted().get("a") == 0.5, 15, "a pass on the new targets")
        passes = allocation_passes(gov_operator)
        wait_for(lambda: allocation_passes(gov_operator) >= passes + 2, 15, "two more passes")
        assert phase_of(control_plane, ns, "a") == "Halting"
        assert shown("a") == "0.6"

        rt.applies = True
        wait_for(lambda: phase_of(control_plane, ns, "a") == "Halted", 10, "Halted")
        wait_for(lambda: shown("a") == "0.5", 15, "the new target shown once the halt settled")
        assert shown("b") == "0.4"


def test_a_lost_status_is_restored_from_postgresql(
    control_plane: ControlPlane, paper_venue: Venue, postgres: str, tmp_path: Path
) -> None:
    with own_namespace(control_plane, "pg") as ns:
        op = start(
            control_plane, paper_venue, tmp_path / "first", prefix="pg", database_url=postgres
        )
        try:
            with governed(control_plane, ns, {"a": "100"}) as runtimes:
                runtimes.equity["a"] = "130"
                wait_for(lambda: policy_status(control_plane, ns).get("highWaterMark") == "1.3", 15)
                runtimes.equity["a"] = "117"  # 10% down: level 1
                wait_for(lambda: policy_status(control_plane, ns).get("level") == 1, 15, "level 1")
                # level 1 widens stops: the word every runtime hears, and the engine's record
                assert policy_status(control_plane, ns)["directive"]["stopMultiplier"] == 1.5
                told = wait_for(
                    lambda: (d := directive(control_plane, ns, "a")).get("level") == 1 and d,
                    15,
                    "level 1 in the engine's record",
                )
                assert told["stopMultiplier"] == 1.5
                op.stop()
                control_plane.kubectl(
                    "patch", "cbp", "eternal", "-n", ns, "--subresource=status", "--type=json",
                    "-p", '[{"op": "replace", "path": "/status", "value": {}}]',
                )  # fmt: skip
                assert "highWaterMark" not in policy_status(control_plane, ns)
                op = start(
                    control_plane, paper_venue, tmp_path / "second", prefix="pg",
                    database_url=postgres,
                )  # fmt: skip
                restored = wait_for(
                    lambda: policy_status(control_plane, ns).get("highWaterMark"), 20, "restored"
                )
                assert restored == "1.3"
                assert policy_status(control_plane, ns)["level"] == 1
                assert "restored from PostgreSQL" in op.text()
        finally:
            op.stop()


def scrape(op: Operator) -> list[str]:
    """The operator's /metrics, its sample lines (labels in alphabetical order)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics") as response:
        text: str = response.read().decode()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def series_of(op: Operator, ns: str, label: str) -> list[str]:
    """Every sample line of `ns` with this `policy` or `engine` label."""
    return [
        line
        for line in scrape(op)
        if f'namespace="{ns}"' in line
        and (f'policy="{label}"' in line or f'engine="{label}"' in line)
    ]


def test_metrics_carry_the_objects_namespace_and_go_with_them(
    control_plane: ControlPlane, gov_operator: Operator, ns: str
) -> None:
    """A halted policy's series name its namespace (not the operator's) and are removed with
    it (deleted with its namespace, as the admission policy allows), so its P0 halt alert
    stops; an engine's heartbeat series goes with the engine."""
    with governed(control_plane, ns, {"a": "60000"}):
        loner = engine("loner")
        loner["metadata"]["labels"] = {}  # no policy; no runtime reports for it
        apply(control_plane, ns, loner)
        beat = "eternal_operator_engine_heartbeat_timestamp_seconds{"
        wait_for(
            lambda: any(line.startswith(beat) for line in series_of(gov_operator, ns, "a")),
            15, "a's heartbeat series",
        )  # fmt: skip
        wait_for(lambda: series_of(gov_operator, ns, "loner"), 15, "the loner's series")

        emergency_halt(control_plane, ns, True)
        halted = f'eternal_governance_halted{{namespace="{ns}",policy="eternal"}} 1.0'
        wait_for(lambda: halted in scrape(gov_operator), 15, "the halt in the metrics")
        names = {line.split("{", 1)[0] for line in series_of(gov_operator, ns, "eternal")}
        assert {
            "eternal_governance_level",
            "eternal_governance_halted",
            "eternal_governance_directives_total",
            "eternal_portfolio_nav_usdt",
            "eternal_portfolio_nav_per_unit",
            "eternal_portfolio_drawdown_ratio",
            "eternal_portfolio_high_water_mark",
        } <= names
        assert not [line for line in scrape(gov_operator) if "_created" in line]
        # a Halted engine's runtime is stopped on purpose: no heartbeat expected of it
        wait_for(lambda: not series_of(gov_operator, ns, "a"), 20, "a's heartbeat series gone")

        control_plane.kubectl("delete", "engine", "loner", "-n", ns, "--wait=false")
        wait_for(lambda: get(control_plane, "engine", "loner", ns) is None, 30, "the loner gone")
        wait_for(lambda: not series_of(gov_operator, ns, "loner"), 10, "the loner's series gone")

    assert halted in scrape(gov_operator)
    control_plane.kubectl("delete", "namespace", ns, "--wait=false")
    wait_for(lambda: get(control_plane, "cbp", "eternal", ns) is None, 60, "the policy gone")
    wait_for(lambda: not series_of(gov_operator, ns, "eternal"), 15, "the policy's series gone")
    time.sleep(1)  # several evaluation intervals (0.2 s): nothing brings them back
    assert series_of(gov_operator, ns, "eternal") == []
