"""Backtest against a real kube-apiserver, the operator, the local pod runner and PostgreSQL:
the sweep runs as an Indexed Job whose shards write their rows, the operator ranks them into the
status, and the result is the local `sweep` CLI's on the same data and grid."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine_runtime.backtest.cli import main as backtest_cli
from eternal_operator.devtools.controlplane import ControlPlane
from support.engines import events, leading_operator
from support.kube import apply, get, secret
from support.podrunner import Runner
from support.processes import Operator, Venue
from support.volumes import bound_host_path, delete_volumes
from support.waiting import wait_for

pytestmark = pytest.mark.cluster
PREFIX = "btst"  # the namespaces and the operator of this module (conftest's `ns`)
API = "trading.eternal-engine.io/v1alpha1"
GRID = {"fast": ["5", "10", "15"], "slow": ["30", "60"]}


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane, paper_venue: Venue, postgres: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:  # fmt: skip
    """This module's operator reads the shards' rows from PostgreSQL."""
    log = Path(tmp_path_factory.mktemp("operator")) / "operator.log"
    op = leading_operator(control_plane, paper_venue, log, PREFIX, database_url=postgres)
    yield op
    op.stop()


@pytest.fixture
def runner(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Runner]:
    with Runner(control_plane, tmp_path / "runner") as running:
        yield running


def candles_csv(bars: int, seed: int) -> str:
    """Hourly candles: a random walk with trends that persist (moving averages have something
    to find, and different periods find it differently)."""
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.choice([-0.003, 0.003], size=bars // 60 + 1), 60)[:bars]
    close = 30000 * np.exp(np.cumsum(drift + rng.normal(0, 0.004, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
    start = np.datetime64("2026-01-01T00:00")
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(bars):
        at = str(start + np.timedelta64(i, "h"))
        lines.append(f"{at},{open_[i]:.2f},{high[i]:.2f},{low[i]:.2f},{close[i]:.2f},100")
    return "\n".join(lines) + "\n"


def backtest(name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "strategy": "sma-cross", "symbols": ["BTCUSDT"], "category": "linear",
        "params": {"smaCross": {"qty": 0.1}},
        "grid": [{"name": n, "values": v} for n, v in GRID.items()],
        "data": {"configMap": {"name": "candles",
                               "files": [{"symbol": "BTCUSDT", "key": "BTCUSDT.csv"}]}},
        "metric": "sharpe", "top": 3, "shards": 2, "parallelism": 2, "backoffLimit": 0,
        "activeDeadlineSeconds": 600, **spec,
    }  # fmt: skip
    return {"apiVersion": API, "kind": "Backtest", "metadata": {"name": name}, "spec": body}


def finished(plane: ControlPlane, ns: str, name: str, phases: set[str], timeout: float = 240
             ) -> dict[str, Any]:  # fmt: skip
    def probe() -> dict[str, Any] | None:
        found = get(plane, "backtest", name, ns)
        return found if found and found.get("status", {}).get("phase") in phases else None

    return wait_for(probe, timeout, f"Backtest {name} to reach {phases}")


def local_sweep(candles: Path, out: Path) -> list[dict[str, str]]:
    """The sweep CLI on the same candles and grid: its ranked sweep.csv."""
    args = ["sweep", "--strategy", "sma-cross", "--candles", f"BTCUSDT:linear={candles}",
            "--symbols", "BTCUSDT", "--qty", "0.1", "--metric", "sharpe", "--workers", "1",
            "--no-plot", "--out", str(out)]  # fmt: skip
    for name, values in GRID.items():
        args += ["--axis", f"{name}={','.join(values)}"]
    assert backtest_cli(args) == 0
    return list(csv.DictReader((out / "sweep.csv").open()))


def ranks_as_the_local_sweep(
    status: dict[str, Any], candles: str, tmp_path: Path
) -> list[dict[str, str]]:
    """The status's best and top are the CLI's on the same candles; the CLI's ranked rows."""
    (tmp_path / "BTCUSDT.csv").write_text(candles)
    local = local_sweep(tmp_path / "BTCUSDT.csv", tmp_path / "local")
    assert status["bestParams"] == {"fast": local[0]["fast"], "slow": local[0]["slow"]}
    assert status["bestScore"] == local[0]["sharpe"]
    assert [t["params"] for t in status["top"]] == [
        {"fast": r["fast"], "slow": r["slow"]} for r in local[:3]
    ]
    return local


def test_a_sweep_in_two_shards_ranks_as_the_local_sweep(
    control_plane: ControlPlane, ns: str, runner: Runner, postgres: str, tmp_path: Path
) -> None:
    candles = candles_csv(1500, 3)
    apply(control_plane, ns, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "candles"},
                              "data": {"BTCUSDT.csv": candles}})  # fmt: skip
    secret(control_plane, ns, "eternal-engine-runtime-env", {"EE_DATABASE_URL": postgres})
    apply(control_plane, ns, backtest("sma", parallelism=1))  # one shard after the other
    seen: set[str] = set()

    def probe() -> dict[str, Any] | None:
        found = get(control_plane, "backtest", "sma", ns) or {}
        seen.add(found.get("status", {}).get("progress") or "")
        return found if found.get("status", {}).get("phase") in ("Succeeded", "Failed") else None

    found = wait_for(probe, 240, "Backtest sma to finish")
    status = found["status"]
    # progress came from the rows of the first shard while the second was still to run
    assert {"0/2", "1/2"} <= seen, seen
    assert status["phase"] == "Succeeded", status.get("conditions")
    (condition,) = status["conditions"]
    assert (condition["type"], condition["status"]) == ("Completed", "True")
    assert (status["shards"], status["completedShards"], status["combinations"]) == (2, 2, 6)

    local = ranks_as_the_local_sweep(status, candles, tmp_path)
    assert [t["rank"] for t in status["top"]] == [1, 2, 3]

    # every combination, ranked, in the report ConfigMap: the same order as the CLI's table
    assert status["report"] == (
        "configmap/sma-report (ranked.csv: every combination, ranked; heatmap.png)"
    )
    report = get(control_plane, "configmap", "sma-report", ns)
    assert report is not None
    ranked = list(csv.DictReader(io.StringIO(report["data"]["ranked.csv"])))
    assert [(r["fast"], r["slow"]) for r in ranked] == [(r["fast"], r["slow"]) for r in local]
    assert {r["shard"] for r in ranked} == {"0", "1"}
    assert base64.b64decode(report["binaryData"]["heatmap.png"])[:4] == b"\x89PNG"

    job = get(control_plane, "job", status["job"], ns)
    assert job is not None
    assert job["spec"]["completionMode"] == "Indexed"
    assert (job["status"]["succeeded"], job["status"]["completedIndexes"]) == (2, "0-1")
    # kubectl get shows the phase, completed/total shards and the best score
    row = control_plane.kubectl("get", "backtests", "-n", ns, "--no-headers").stdout.split()
    assert row[:4] == ["sma", "Succeeded", "2/2", status["bestScore"]]
    assert "PhaseSucceeded" in {e["reason"] for e in events(control_plane, ns, "sma")}


def test_a_sweep_over_a_volume_of_candles_ranks_as_the_local_sweep(
    control_plane: ControlPlane, ns: str, runner: Runner, postgres: str, tmp_path: Path
) -> None:
    """Candles too large for a ConfigMap (over 1 MiB) in a directory of a PersistentVolume:
    the shards read them from the claim, mounted read-only, and rank as the CLI does. The
    claim is pre-bound to a hostPath PV (the test control plane runs no PV binder)."""
    candles = candles_csv(20_000, 7)
    assert len(candles.encode()) > 1024 * 1024  # more than a ConfigMap can hold
    (tmp_path / "pv" / "hourly").mkdir(parents=True)
    (tmp_path / "pv" / "hourly" / "BTCUSDT-1h.csv").write_text(candles)
    volume = bound_host_path(control_plane, ns, "history", tmp_path / "pv")
    try:
        secret(control_plane, ns, "eternal-engine-runtime-env", {"EE_DATABASE_URL": postgres})
        data = {
            "volume": {
                "claimName": "history",
                "path": "hourly",
                "files": [{"symbol": "BTCUSDT", "file": "BTCUSDT-1h.csv"}],
            }
        }
        # the API server checks the source as the model does
        for bad, message in [
            ({**data, "configMap": {"name": "c", "files": [{"symbol": "BTCUSDT", "key": "k"}]}},
             "set exactly one of venueHistory, configMap and volume"),
            ({"volume": {**data["volume"], "path": "hourly/../.."}},
             "path must stay inside the volume"),
        ]:  # fmt: skip
            refused = control_plane.kubectl(
                "apply",
                "-n",
                ns,
                "-f",
                "-",
                check=False,
                input=json.dumps(backtest("bad", data=bad)),
            )
            assert refused.returncode != 0
            assert message in refused.stderr, refused.stderr
        apply(control_plane, ns, backtest("vol", data=data))
        status = finished(control_plane, ns, "vol", {"Succeeded", "Failed"})["status"]
        assert status["phase"] == "Succeeded", status.get("conditions")
        assert (status["completedShards"], status["combinations"]) == (2, 6)
    finally:
        delete_volumes(control_plane, volume)
    ranks_as_the_local_sweep(status, candles, tmp_path)
    job = get(control_plane, "job", "vol", ns)
    assert job is not None
    pod = job["spec"]["template"]["spec"]
    assert {
        "name": "candles",
        "persistentVolumeClaim": {"claimName": "history", "readOnly": True},
    } in pod["volumes"]


def test_failing_shards_fail_the_backtest_with_the_jobs_reason(
    control_plane: ControlPlane, ns: str, runner: Runner, postgres: str
) -> None:
    apply(control_plane, ns, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "candles"},
                              "data": {"BTCUSDT.csv": "this is not a candle file\n"}})  # fmt: skip
    secret(control_plane, ns, "eternal-engine-runtime-env", {"EE_DATABASE_URL": postgres})
    apply(control_plane, ns, backtest("bad"))
    found = finished(control_plane, ns, "bad", {"Failed"})
    (condition,) = found["status"]["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "BackoffLimitExceeded")
    assert found["status"]["progress"] == "0/2"
    assert get(control_plane, "configmap", "bad-report", ns) is None


def test_the_spec_is_immutable_and_deleting_removes_the_job(
    control_plane: ControlPlane, ns: str
) -> None:
    apply(control_plane, ns, backtest("held"))  # no runner: the Job stays pending
    found = finished(control_plane, ns, "held", {"Pending"}, timeout=30)
    assert found["status"]["progress"] == "0/2"
    refused = control_plane.kubectl("patch", "backtest", "held", "-n", ns, "--type=merge",
                                    "-p", '{"spec": {"top": 4}}', check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "a Backtest's spec is immutable" in refused.stderr
    assert get(control_plane, "job", "held", ns) is not None
    control_plane.kubectl("delete", "backtest", "held", "-n", ns)
    wait_for(lambda: get(control_plane, "job", "held", ns) is None, 60, "the Job collected")


def test_a_grid_the_strategy_cannot_take_fails_with_the_reason(
    control_plane: ControlPlane, ns: str
) -> None:
    apply(control_plane, ns, backtest("typo", grid=[{"name": "period", "values": ["5", "6"]}]))
    found = finished(control_plane, ns, "typo", {"Failed"}, timeout=30)
    (condition,) = found["status"]["conditions"]
    assert condition["reason"] == "InvalidSpec"
    assert "sma-cross has no parameter period" in condition["message"]
    assert get(control_plane, "job", "typo", ns) is None  # nothing was started
