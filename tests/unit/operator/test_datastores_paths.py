"""Which PostgreSQL the local stack runs: whatever Debian version the machine has."""

from __future__ import annotations

from pathlib import Path

import pytest

from eternal_operator.devtools.datastores import pg_bin

pytestmark = pytest.mark.unit


def test_the_newest_debian_postgresql_is_chosen_by_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EE_PG_BIN", raising=False)
    for version in ("9", "15", "17", "common"):
        (tmp_path / version / "bin").mkdir(parents=True)
    assert pg_bin(tmp_path) == tmp_path / "17" / "bin"  # not "9", which sorts last as text


def test_ee_pg_bin_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "16" / "bin").mkdir(parents=True)
    monkeypatch.setenv("EE_PG_BIN", "/opt/pg/bin")
    assert pg_bin(tmp_path) == Path("/opt/pg/bin")
