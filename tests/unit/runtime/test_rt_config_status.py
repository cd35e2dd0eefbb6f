"""Fail-fast configuration, the status report's decimal strings, governance flags."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from engine_runtime.config import ConfigError, load_config
from engine_runtime.governance.obedience import Governor
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.logs import Redactor
from engine_runtime.reporting.status import build_report, money, start_error_patch, status_patch
from eternal_kernel.model.reports import CoinBalance, WalletReport
from support.runtime import engine_json

pytestmark = pytest.mark.unit


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "engine.json"
    path.write_text(
        json.dumps(
            engine_json(
                "e1", "ns", "http://127.0.0.1:1", params={}, health_port=8081, metrics_port=9100
            )
        )
    )
    for key, value in {
        "EE_CONFIG_PATH": str(path),
        "EE_ENGINE_NAME": "e1",
        "EE_ENGINE_NAMESPACE": "ns",
        "EE_DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
        "EE_REDIS_URL": "redis://127.0.0.1:1",
        "BYBIT_API_KEY": "KEY12345",
        "BYBIT_API_SECRET": "SECRET12345",
    }.items():
        monkeypatch.setenv(key, value)
    return path


def test_a_complete_environment_loads(env: Path) -> None:
    config = load_config()
    assert config.engine_key == "ns/e1"
    assert config.engine.risk.max_leverage == D("3")
    assert "SECRET" not in repr(config.settings)


def test_missing_database_url_fails_with_its_name(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EE_DATABASE_URL")
    monkeypatch.setenv("EE_REDIS_URL", "http://nope")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert "EE_DATABASE_URL: Field required" in str(caught.value)
    assert "EE_REDIS_URL" in str(caught.value)
    assert "EE_BYBIT" not in str(caught.value)


def test_bad_engine_json_names_the_field(env: Path) -> None:
    data = json.loads(env.read_text())
    data["risk"]["maxLeverage"] = "50"
    env.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"risk\.(maxLeverage|max_leverage)"):
        load_config()


def test_money_strings_match_the_api_pattern() -> None:
    assert money(D("10000.123456789")) == "10000.12345679"
    assert money(D("-0.000000001")) == "0"
    assert money(D("1E+3")) == "1000"
    assert money(D("0.10")) == "0.1"


def test_report_and_patch_shape() -> None:
    portfolio = Portfolio()
    portfolio.on_wallet(
        WalletReport(D("10100"), {"USDT": CoinBalance("USDT", D("10100"), D("9000"), D("10100"))})
    )
    report = build_report(
        portfolio,
        open_orders=2,
        applied_directive=4,
        flat=False,
        venue_connected=True,
        shutdown_done_at=None,
        last_error=None,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    body = status_patch(report)["status"]["runtime"]
    assert body["equity"] == "10100"
    assert body["cash"] == "9000"
    assert body["dayPnl"] == "0"
    assert body["appliedDirective"] == 4
    assert body["heartbeat"].startswith("2026-01-01T00:00:00")
    assert body["lastError"] is None  # sent as null: clears an old error
    assert body["startError"] is None  # a runtime that reports has started: clears it too
    assert body["entriesPaused"] is None  # sent as null: a restarted runtime takes entries again
    paused = build_report(portfolio, open_orders=0, applied_directive=None, flat=None,
                          venue_connected=True, shutdown_done_at=None, last_error=None,
                          entries_paused="kill switch: 11 venue errors in a minute")  # fmt: skip
    assert status_patch(paused)["status"]["runtime"]["entriesPaused"].startswith("kill switch")


def test_a_start_error_patch_writes_only_the_start_error() -> None:
    patch = start_error_patch("x" * 2000, datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC))
    assert list(patch["status"]["runtime"]) == ["startError"]
    error = patch["status"]["runtime"]["startError"]
    assert len(error["message"]) == 1024
    assert error["time"].startswith("2026-01-01T00:00:00")


def test_governor_flags_change_on_observe() -> None:
    governor = Governor()
    governor.observe(
        {"status": {"governance": {"sequence": 2, "sizeMultiplier": 0.5, "entriesPaused": True}}}
    )
    assert governor.entries_paused
    assert governor.size_multiplier == D("0.5")
    assert governor.take_directive() is not None
    assert governor.take_directive() is None
    governor.observe({"spec": {"suspend": True}, "status": {}})
    assert governor.stopping
    assert governor.take_shutdown()


def test_redaction() -> None:
    redact = Redactor(["SECRETVALUE"])
    assert redact("key SECRETVALUE postgresql://u:pw@h/db") == "key *** postgresql://u:***@h/db"
