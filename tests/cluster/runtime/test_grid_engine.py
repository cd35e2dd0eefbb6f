"""A grid Engine on a real API server: the CRD takes `strategy: grid` with `params.grid` and its
CEL cross-checks refuse a bad ladder; the runtime places the ladder, and a halt directive
cancels it and leaves the account flat, with no level placed again while the halt holds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from support.runtime import Account, RuntimeProcess, make_runtime
from support.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.integration]
PARAMS = {"category": "linear", "levels": 3, "spacingPct": 0.002, "budgetFraction": 0.6}


def grid_engine(name: str, account: Account, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1",
        "kind": "Engine",
        "metadata": {"name": name},
        "spec": {
            "strategy": "grid",
            "symbols": ["BTCUSDT"],
            "subaccount": str(account.uid),
            "params": {"grid": params},
        },
    }


@pytest.fixture
def grid_rt(
    control_plane: ControlPlane, namespace: str, fast_venue: str, account: Account,
    postgres: str, redis: str, tmp_path: Path,
) -> Iterator[RuntimeProcess]:  # fmt: skip
    control_plane.kubectl(
        "apply", "-n", namespace, "-f", "-",
        input=json.dumps(grid_engine("grid", account, PARAMS)),
    )  # fmt: skip
    rt = make_runtime(
        tmp_path / "grid", name="grid", namespace=namespace, venue_url=fast_venue,
        database_url=postgres, redis_url=redis, account=account,
        kubeconfig=control_plane.kubeconfig, builtin="grid",
        extra_params=PARAMS,
    )  # fmt: skip
    rt.start()
    rt.wait_ready()
    yield rt
    rt.stop()


def test_the_api_server_refuses_a_ladder_below_zero(
    control_plane: ControlPlane, namespace: str, account: Account
) -> None:
    bad = grid_engine("grid-bad", account, {"levels": 30, "spacingPct": 0.05})
    refused = control_plane.kubectl(
        "apply", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False
    )
    assert refused.returncode != 0
    assert "levels x spacingPct must stay below 1" in refused.stderr


def test_halt_cancels_the_ladder_and_it_stays_down(
    control_plane: ControlPlane, namespace: str, grid_rt: RuntimeProcess, fast_venue: str,
    account: Account,
) -> None:  # fmt: skip
    venue = http_session(fast_venue, account.api_key, account.api_secret)

    def open_orders() -> list[dict[str, Any]]:
        rows = venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
        return list(rows)

    def ladder_placed() -> list[dict[str, Any]] | None:
        rows = open_orders()
        return rows if len(rows) == 6 else None

    ladder = wait_for(ladder_placed, 30, "the ladder")
    assert {o["timeInForce"] for o in ladder} == {"PostOnly"}
    directive = {
        "governance": {
            "sequence": 5, "policy": "test", "level": 4, "halt": True, "entriesPaused": True,
            "issuedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }  # fmt: skip
    control_plane.kubectl(
        "patch", "engine", "grid", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": directive}),
    )  # fmt: skip
    wait_for(lambda: not open_orders(), 20, "the ladder to be cancelled")
    time.sleep(3)  # three more bars on the 60x venue clock: the grid stays stopped
    assert open_orders() == []
    positions = venue.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert not positions or Decimal(positions[0]["size"]) == 0
