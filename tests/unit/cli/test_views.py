"""`kubectl eternal`'s views, built from objects shaped as the API server returns them: the
samples in manifests/samples/ with a status written through the API models."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from eternal_kernel.api.v1alpha1 import Allocation, CircuitBreakerPolicy, Engine
from eternal_kernel.api.v1alpha1.allocation import AllocationStatus, EngineWeight
from eternal_kernel.api.v1alpha1.engine import (
    AllocationReport,
    EngineStatus,
    GovernanceDirective,
    Phase,
    PositionReport,
    RuntimeReport,
)
from eternal_kernel.api.v1alpha1.policy import (
    CircuitBreakerPolicyStatus,
    LevelChange,
)
from eternal_operator.cli.main import duration, runtime_pod
from eternal_operator.cli.render import Cell, Style, table
from eternal_operator.cli.views import directive_summary, fmt_age, render_status, status_view

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sample(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((SAMPLES / name).read_text()))


def as_api(model: Any, namespace: str = "fleet") -> dict[str, Any]:
    """What the API server returns: the model's JSON, with the metadata it adds."""
    obj = dict(model.model_dump(mode="json", by_alias=True, exclude_none=True))
    obj["metadata"] = {
        **obj["metadata"],
        "namespace": namespace,
        "uid": "u-" + obj["metadata"]["name"],
    }
    return obj


def trend(**status: Any) -> dict[str, Any]:
    engine = Engine.model_validate(sample("engine-trend.yaml"))
    engine = engine.model_copy(update={"status": EngineStatus(
        phase=Phase.RUNNING,
        runtime=RuntimeReport(
            equity="20480.5",
            day_pnl="-120.25",
            drawdown="0.031",
            positions=[
                PositionReport(symbol="BTCUSDT", category="linear", side="Buy", size="0.1",
                               entry_price="60000", unrealized_pnl="12")
            ],
            open_orders=2,
            heartbeat=NOW - timedelta(seconds=4),
            applied_directive=7,
        ),
        allocation=AllocationReport(allocation="eternal", target_weight="0.2",
                                    current_weight="0.23"),
        governance=GovernanceDirective(
            policy="eternal", sequence=7, level=2, size_multiplier=Decimal("0.5"),
            entries_paused=True, reason="drawdown 0.16",
            issued_at=NOW - timedelta(minutes=3, seconds=5),
        ),
        **status,
    )})  # fmt: skip
    return as_api(engine)


def hodl() -> dict[str, Any]:
    engine = Engine.model_validate(sample("engine-core-hodl.yaml"))
    engine = engine.model_copy(update={"status": EngineStatus(
        phase=Phase.HALTED,
        runtime=RuntimeReport(equity="60000", heartbeat=NOW - timedelta(minutes=5),
                              applied_directive=8, last_error="venue 10006 rate limited"),
        governance=GovernanceDirective(policy="eternal", sequence=9, level=4, halt=True,
                                       size_multiplier=Decimal("0"), issued_at=NOW),
    )})  # fmt: skip
    return as_api(engine)


def policy(**status: Any) -> dict[str, Any]:
    model = CircuitBreakerPolicy.model_validate(sample("circuitbreakerpolicy.yaml"))
    model = model.model_copy(update={"status": CircuitBreakerPolicyStatus(
        equity="80480.5",
        nav_per_unit="0.84",
        high_water_mark="1.0",
        drawdown="0.16",
        day_open_nav="0.875",
        level=2,
        engines=["core-hodl", "trend"],
        history=[
            LevelChange(time=NOW - timedelta(hours=2), from_level=0, to_level=1,
                        drawdown="0.11", reason="drawdown 0.11"),
            LevelChange(time=NOW - timedelta(hours=1), from_level=1, to_level=2,
                        drawdown="0.16", reason="drawdown 0.16"),
        ],
        **status,
    )})  # fmt: skip
    return as_api(model)


def allocation() -> dict[str, Any]:
    model = Allocation.model_validate(sample("allocation.yaml"))
    model = model.model_copy(update={"status": AllocationStatus(
        total_equity="89000",
        max_drift="0.15",
        current_weights=[EngineWeight(engine="trend", equity="20480.5",
                                      weight="0.23", drift="0.15")],
    )})  # fmt: skip
    return as_api(model)


def test_an_engine_row_carries_what_an_operator_checks_first() -> None:
    view = status_view([trend()], [policy()], [allocation()], NOW)
    (e,) = view["engines"]
    assert e["name"] == "trend"
    assert e["namespace"] == "fleet"
    assert e["phase"] == "Running"
    assert Decimal(e["equity"]) == Decimal("20480.5")
    assert e["positions"] == 1
    assert e["openOrders"] == 2
    assert e["level"] == 2
    assert e["halted"] is False
    assert e["directive"]["summary"] == "paused x0.5"
    assert e["directive"]["sequence"] == 7
    assert e["directive"]["obeyed"] is True
    assert e["directive"]["ageSeconds"] == 185.0
    assert e["heartbeatAgeSeconds"] == 4.0
    # drift is the Allocation's own figure for the engine (|0.23 - 0.2| / 0.2)
    assert e["allocation"] == {
        "name": "eternal", "targetWeight": "0.2", "currentWeight": "0.23", "drift": "0.1500",
    }  # fmt: skip


def test_drift_is_computed_like_the_allocation_controller_when_its_status_has_none() -> None:
    view = status_view([trend()], [], [], NOW)
    assert view["engines"][0]["allocation"]["drift"] == "0.1500"


def test_a_runtime_behind_its_directive_is_shown_as_not_obeying() -> None:
    (e,) = status_view([hodl()], [], [], NOW)["engines"]
    assert e["halted"] is True
    assert e["directive"]["summary"] == "halt"
    assert e["directive"]["obeyed"] is False
    assert e["directive"]["applied"] == 8
    text = render_status({"engines": [e], "policies": [], "allocations": []}, Style(False),
                         all_namespaces=False)  # fmt: skip
    assert "9 (applied 8)" in text
    assert "core-hodl: last error: venue 10006 rate limited" in text


def test_a_policy_row_has_nav_hwm_drawdown_its_day_and_its_history() -> None:
    (p,) = status_view([], [policy()], [], NOW)["policies"]
    assert (p["navPerUnit"], p["highWaterMark"], p["drawdown"]) == ("0.84", "1.0", "0.16")
    assert Decimal(p["dayReturn"]) == Decimal("-0.04")  # 0.84 / 0.875 - 1
    assert p["level"] == 2
    assert p["halted"] is False
    assert p["emergencyHalt"] is False
    assert [h["toLevel"] for h in p["history"]] == [1, 2]
    text = render_status(status_view([], [policy()], [], NOW), Style(False), all_namespaces=False)
    assert "Recent level changes: eternal" in text
    history = text.split("Recent level changes: eternal")[1]
    assert history.index("1 -> 2") < history.index("0 -> 1")  # newest first


def test_a_halted_policy_says_why_and_that_it_is_halted() -> None:
    halted = policy(halted=True, halt_reason="emergency halt (spec.emergencyHalt)")
    text = render_status(status_view([], [halted], [], NOW), Style(False), all_namespaces=False)
    assert "HALTED" in text
    assert "eternal: halted: emergency halt (spec.emergencyHalt)" in text


def test_text_is_aligned_and_piped_text_has_no_escape_codes() -> None:
    view = status_view([trend(), hodl()], [policy()], [allocation()], NOW)
    plain = render_status(view, Style(False), all_namespaces=True)
    assert "\x1b" not in plain
    lines = plain.splitlines()
    header = next(line for line in lines if "PHASE" in line)
    rows = [
        row for row in lines if row.startswith("  fleet ") and ("Running" in row or "Halted" in row)
    ]
    assert len(rows) == 2
    for row in rows:  # every column starts where its header starts
        assert row.index("fleet") == header.index("NAMESPACE")
        phase = "Running" if "Running" in row else "Halted"
        assert row.index(phase) == header.index("PHASE")
    coloured = render_status(view, Style(True), all_namespaces=True)
    assert "\x1b[31mHalted" in coloured
    assert "\x1b[32mRunning" in coloured
    assert ANSI.sub("", coloured) == plain  # colour never moves a column


def test_colour_follows_the_stream_and_no_color() -> None:
    assert Style.for_stream(io.StringIO()).colour is False

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert Style.for_stream(Tty()).colour is True
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_COLOR", "1")
        assert Style.for_stream(Tty()).colour is False


def test_json_view_is_plain_json() -> None:
    view = status_view([trend(), hodl()], [policy()], [allocation()], NOW)
    again = json.loads(json.dumps(view))
    assert again == view
    assert [e["name"] for e in again["engines"]] == ["core-hodl", "trend"]
    assert again["allocations"][0]["maxDrift"] == "0.15"


def test_empty_status_objects_show_dashes_not_errors() -> None:
    bare = as_api(Engine.model_validate(sample("engine-funding.yaml")))
    view = status_view([bare], [as_api(CircuitBreakerPolicy.model_validate(
        sample("circuitbreakerpolicy.yaml")))], [], NOW)  # fmt: skip
    (e,) = view["engines"]
    assert e["phase"] is None
    assert e["directive"]["summary"] is None
    text = render_status(view, Style(False), all_namespaces=False)
    assert "funding" in text
    assert "No engines found" not in text


@pytest.mark.parametrize(
    ("directive", "summary"),
    [
        ({}, "-"),
        ({"level": 0, "sizeMultiplier": 1}, "normal"),
        ({"sizeMultiplier": 0.75}, "x0.75"),
        ({"sizeMultiplier": 0.75, "stopMultiplier": 1.5}, "x0.75 stops x1.5"),
        ({"sizeMultiplier": 0, "entriesPaused": True, "closeDirectional": True}, "close paused"),
        ({"halt": True, "sizeMultiplier": 0}, "halt"),
    ],
)
def test_directive_summary(directive: dict[str, Any], summary: str) -> None:
    assert directive_summary(directive) == summary


def test_ages_read_like_kubectl() -> None:
    assert [fmt_age(s) for s in (None, 4, 185, 3 * 3600 + 120, 2 * 86400 + 3600)] == [
        "-", "4s", "3m5s", "3h2m", "2d1h",
    ]  # fmt: skip


def test_table_pads_to_the_widest_cell() -> None:
    text = table(["A", "B"], [[Cell("long-name"), "x"], ["s", "y"]], Style(False))
    assert text.splitlines() == ["  A          B", "  long-name  x", "  s          y"]


def test_the_runtime_pod_is_the_running_one_then_the_newest() -> None:
    def pod(name: str, phase: str, created: str, deleting: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
        if deleting:
            meta["deletionTimestamp"] = created
        return {"metadata": meta, "status": {"phase": phase}}

    pods = [
        pod("old", "Running", "2026-12-03T10:00:00Z"),
        pod("leaving", "Running", "2026-12-03T11:00:00Z", deleting=True),
        pod("new", "Pending", "2026-12-03T11:30:00Z"),
    ]
    chosen = runtime_pod(pods)
    assert chosen is not None
    assert chosen["metadata"]["name"] == "old"
    chosen = runtime_pod(pods[2:])
    assert chosen is not None
    assert chosen["metadata"]["name"] == "new"
    assert runtime_pod([]) is None


def test_durations() -> None:
    assert [duration(t) for t in ("10s", "2m", "1.5", "250ms")] == [10, 120, 1.5, 0.25]
    with pytest.raises(Exception, match="not a duration"):
        duration("soon")
