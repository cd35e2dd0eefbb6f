"""Governance under the faults that would bypass it, on a real API server with the operator and
the paper venue: an operator killed mid-halt keeps the deadline, two policies over one engine
keep the most restrictive directive without a fight, a halt outlives a relabel until its reset,
and a deleted policy releases what it restricted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from support import processes
from support.governance import (
    LABEL,
    Runtimes,
    after_evaluations,
    directive,
    engine,
    keys,
    own_namespace,
    policy,
    start,
)
from support.kube import apply, get
from support.processes import Operator, Venue
from support.waiting import wait_for

pytestmark = pytest.mark.cluster
PREFIX = "gof"


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    op = start(control_plane, paper_venue, Path(tmp_path_factory.mktemp("gof")) / "op.log",
               prefix=PREFIX)  # fmt: skip
    yield op
    op.stop()


@pytest.fixture
def ns(control_plane: ControlPlane, operator: Operator) -> Iterator[str]:
    with own_namespace(control_plane, PREFIX) as name:
        yield name


def named_policy(name: str, **spec: Any) -> dict[str, Any]:
    body = policy(**spec)
    body["metadata"]["name"] = name
    return body


def status_of(plane: ControlPlane, kind: str, name: str, ns: str) -> dict[str, Any]:
    return dict((get(plane, kind, name, ns) or {}).get("status") or {})


def condition(plane: ControlPlane, ns: str, name: str, kind: str) -> dict[str, Any]:
    conditions = status_of(plane, "cbp", name, ns).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def exposure(venue: Any) -> dict[str, Decimal]:
    """Every coin but USDT above dust, and every linear position, of the account."""
    wallet = venue.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["coin"]
    held = {c["coin"]: Decimal(c["walletBalance"]) for c in wallet if c["coin"] != "USDT"}
    held = {k: v for k, v in held.items() if v > Decimal("0.0001")}
    for p in venue.get_positions(category="linear", settleCoin="USDT")["result"]["list"]:
        if Decimal(p["size"]) > 0:
            held[p["symbol"]] = Decimal(p["size"])
    return held


def events(plane: ControlPlane, ns: str, reason: str) -> list[dict[str, Any]]:
    out = plane.kubectl("get", "events", "-n", ns, "-o", "json").stdout
    return [e for e in json.loads(out)["items"] if e.get("reason") == reason]


def test_the_operator_flattens_at_once_and_a_restarted_one_keeps_the_persisted_deadline(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path: Path
) -> None:
    """The runtime is frozen (it obeys nothing): the operator's own flatten, started as the
    halt is published, gets the account flat before the engine's record is even written; the
    backstop then still fires on the deadline persisted in that record, across a restart."""
    deadline = 12
    venue = http_session(paper_venue.url, processes.SUB1_KEY, processes.SUB1_SECRET)
    with own_namespace(control_plane, "bks") as ns:
        op = start(control_plane, paper_venue, tmp_path / "a.log", name="bks-a", prefix="bks")
        try:
            keys(control_plane, ns)
            apply(control_plane, ns, engine("frozen"))
            venue.place_order(category="linear", symbol="BTCUSDT", side="Sell",
                              orderType="Market", qty="0.02")  # fmt: skip
            venue.place_order(category="spot", symbol="ETHUSDT", side="Buy", orderType="Market",
                              qty="200", marketUnit="quoteCoin")  # fmt: skip
            assert {"BTCUSDT", "ETH"} <= set(exposure(venue))
            with Runtimes(control_plane, ns, {"frozen": "10000"}) as runtimes:
                runtimes.obey = False
                apply(control_plane, ns, policy(emergencyHalt=True, haltDeadlineSeconds=deadline,
                                                staleAfterSeconds=3600))  # fmt: skip
                halted_at = wait_for(
                    lambda: directive(control_plane, ns, "frozen").get("haltedAt"), 20, "the halt"
                )
                assert not exposure(venue)  # flat before the record: the operator's own flatten
                assert events(control_plane, ns, "FlattenedAtOnce")
                runtimes.equity.clear()  # frozen: it says nothing more
            op.process.kill()  # mid-halt, long before the deadline
            op.process.wait(timeout=10)
            op = start(control_plane, paper_venue, tmp_path / "b.log", name="bks-b",
                       prefix="bks")  # fmt: skip
            governance = wait_for(
                lambda: (d := directive(control_plane, ns, "frozen")).get("runtimeStopped") and d,
                deadline + 20, "the runtime marked stopped",
            )  # fmt: skip
            stopped_after = time.time() - datetime.fromisoformat(halted_at).timestamp()
            # The deadline plus one evaluation and the check itself, not a fresh deadline.
            assert deadline <= stopped_after < deadline + 3, stopped_after
            assert governance["haltedAt"] == halted_at  # the restart kept it
            assert not exposure(venue)
            assert (get(control_plane, "deployment", "frozen-runtime", ns) or {})["spec"][
                "replicas"
            ] == 0
            assert events(control_plane, ns, "OperatorFlattened")
            assert not venue.get_open_orders(category="spot")["result"]["list"]
        finally:
            op.stop()


def test_two_policies_over_one_engine_keep_the_most_restrictive_directive_and_say_so(
    control_plane: ControlPlane, ns: str, operator: Operator
) -> None:
    keys(control_plane, ns)
    apply(control_plane, ns, engine("shared"))
    with Runtimes(control_plane, ns, {"shared": "10000"}):
        apply(control_plane, ns, named_policy("alpha"))
        wait_for(lambda: directive(control_plane, ns, "shared").get("policy") == "alpha", 20)
        apply(control_plane, ns, named_policy("zeta", emergencyHalt=True))
        wait_for(
            lambda: (d := directive(control_plane, ns, "shared")).get("halt")
            and d.get("policy") == "zeta" and d.get("conflicts") == ["alpha"],
            20, "the halt of the more restrictive policy, naming the other",
        )  # fmt: skip
        for name in ("alpha", "zeta"):
            wait_for(lambda n=name: condition(control_plane, ns, n, "Conflict").get("status")
                     == "True", 10, f"{name}'s Conflict condition")  # fmt: skip
        # No tug of war: the directive stays put while both policies keep evaluating.
        seen = set()

        def sample() -> None:
            d = directive(control_plane, ns, "shared")
            seen.add((d["policy"], d["sequence"], d["halt"]))

        after_evaluations(operator, 20, sample)  # ten of each policy
        assert len(seen) == 1, seen
        told = [(e["message"], e.get("count")) for e in events(control_plane, ns, "Directive")]
        assert len(told) <= 3, told  # alpha's word, zeta's halt: each engine told each once
        assert events(control_plane, ns, "PolicyConflict")

        control_plane.kubectl(
            "patch",
            "cbp",
            "zeta",
            "-n",
            ns,
            "--type=merge",
            "-p",
            '{"spec":{"selector":{"matchLabels":{"nobody":"x"}}}}',
        )
        # zeta's halt is latched and reached the engine: it holds until zeta is reset.
        after_evaluations(operator, 10)
        assert directive(control_plane, ns, "shared")["halt"] is True
        control_plane.kubectl("patch", "cbp", "zeta", "-n", ns, "--type=merge",
                              "-p", '{"spec":{"emergencyHalt":false}}')  # fmt: skip
        control_plane.kubectl("annotate", "cbp", "zeta", "-n", ns,
                              "trading.eternal-engine.io/reset=r1")  # fmt: skip
        wait_for(
            lambda: (d := directive(control_plane, ns, "shared")).get("policy") == "alpha"
            and d.get("halt") is False and d.get("conflicts") == [],
            20, "alpha alone, no halt",
        )  # fmt: skip
        for name in ("alpha", "zeta"):
            wait_for(lambda n=name: condition(control_plane, ns, n, "Conflict").get("status")
                     == "False", 10, f"{name}'s conflict resolved")  # fmt: skip


def test_deleting_a_policy_releases_the_engines_it_restricted(
    control_plane: ControlPlane, ns: str
) -> None:
    keys(control_plane, ns)
    apply(control_plane, ns, engine("paused"))
    with Runtimes(control_plane, ns, {"paused": "100"}) as runtimes:
        apply(control_plane, ns, policy())
        wait_for(lambda: status_of(control_plane, "cbp", "eternal", ns).get("highWaterMark"), 20)
        runtimes.equity["paused"] = "84"  # 16% down: level 2, entries paused
        paused = wait_for(
            lambda: (d := directive(control_plane, ns, "paused")).get("entriesPaused") and d,
            20, "level 2",
        )  # fmt: skip
        control_plane.kubectl("delete", "cbp", "eternal", "-n", ns)
        released = wait_for(
            lambda: (d := directive(control_plane, ns, "paused")).get("entriesPaused") is False
            and d,
            20, "the release",
        )  # fmt: skip
        assert released["policy"] == "eternal"
        assert released["sequence"] > paused["sequence"]
        assert released["level"] == 0


def test_a_halted_policy_cannot_be_deleted_and_its_engines_stay_halted(
    control_plane: ControlPlane, ns: str, operator: Operator
) -> None:
    keys(control_plane, ns)
    apply(control_plane, ns, engine("held"))
    with Runtimes(control_plane, ns, {"held": "100"}):
        apply(control_plane, ns, policy(emergencyHalt=True))
        wait_for(lambda: directive(control_plane, ns, "held").get("halt"), 20, "the halt")
        refused = control_plane.kubectl("delete", "cbp", "eternal", "-n", ns, check=False)
        assert refused.returncode != 0
        assert "holds a latched halt" in refused.stderr
        control_plane.kubectl("label", "engine", "held", "-n", ns, "--overwrite",
                              f"{next(iter(LABEL))}=elsewhere")  # fmt: skip
        after_evaluations(operator, 5)  # the relabelled engine stays halted meanwhile
        assert directive(control_plane, ns, "held")["halt"] is True
        assert status_of(control_plane, "cbp", "eternal", ns)["haltedEngines"] == ["held"]
