"""Operator settings: parsing, refusal of bad values, and docs that list every one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eternal_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[3] / "docs" / "operator.md"


def test_namespaces_split_and_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EE_OPERATOR_NAMESPACES", "fleet-a, fleet-b,,")
    settings = OperatorSettings()
    assert settings.namespaces == ("fleet-a", "fleet-b")
    assert settings.clusterwide is False
    monkeypatch.delenv("EE_OPERATOR_NAMESPACES")
    assert OperatorSettings().clusterwide is True


def test_secret_setting_is_not_in_its_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EE_OPERATOR_SIMULATOR_MASTER_API_SECRET", "s3cr3t-value")
    assert "s3cr3t-value" not in repr(OperatorSettings())


def test_bad_value_stops_the_operator_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eternal_operator"],
        env={"EE_OPERATOR_RESYNC_SECONDS": "-5", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "EE_OPERATOR_RESYNC_SECONDS" in result.stderr


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    for name in OperatorSettings.model_fields:
        assert f"`EE_OPERATOR_{name.upper()}`" in text, name
