"""What the admin API lets in: bounded amounts, names inside the data directory, the token."""

from __future__ import annotations

import os
from decimal import Decimal as D
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from paper_venue.amounts import check_amount
from paper_venue.config import AccountSeed, VenueSettings
from paper_venue.router import admin_token
from paper_venue.router.datadir import OutsideDataDir, inside


@pytest.mark.unit
@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("1e400", "at most 1000000000000000"),
        ("1000000000000000.00000001", "at most"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("-Infinity", "finite"),
        ("-1", "positive"),
        ("0", "positive"),
        ("0.000000001", "at most 8 decimal places"),
    ],
)
def test_a_deposit_must_be_finite_positive_bounded_and_to_eight_places(
    value: str, rule: str
) -> None:
    with pytest.raises(ValueError, match=rule):
        check_amount(D(value), max_places=8, allow_zero=False)


@pytest.mark.unit
def test_sane_amounts_pass_unchanged() -> None:
    for value in ("0.00000001", "1000000000000000", "5000.50", "1E+3", "2.500000000000"):
        assert check_amount(D(value), max_places=8, allow_zero=False) == D(value)
    assert check_amount(D(0), max_places=8, allow_zero=True) == 0
    with pytest.raises(ValueError, match="negative"):
        check_amount(D("-0.01"), max_places=8, allow_zero=True)


@pytest.mark.unit
def test_configured_balances_and_prices_are_bounded_and_name_their_field() -> None:
    with pytest.raises(ValidationError, match=r"balances\.USDT"):
        AccountSeed(username="x", balances={"USDT": D("1e400")})
    with pytest.raises(ValidationError, match="balances"):
        AccountSeed.model_validate({"username": "x", "balances": {"usdt lower": "1"}})
    with pytest.raises(ValidationError, match=r"initial_prices\.BTCUSDT"):
        VenueSettings.model_validate({"feed": {"initial_prices": {"BTCUSDT": "-5"}}})
    assert AccountSeed(username="x", balances={"USDT": D(0)}).balances["USDT"] == 0


@pytest.mark.unit
def test_names_resolve_inside_the_data_directory(tmp_path: Path) -> None:
    assert inside(tmp_path, "state.json") == tmp_path.resolve() / "state.json"
    (tmp_path / "sub").mkdir()
    assert inside(tmp_path, "sub/a.json") == tmp_path.resolve() / "sub" / "a.json"
    assert inside(tmp_path, "./b.json") == tmp_path.resolve() / "b.json"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("../x.json", r"'\.\.'"),
        ("sub/../../x.json", r"'\.\.'"),
        ("", "file name"),
        (".", "outside"),
        ("a\0b", "file name"),
    ],
)
def test_names_that_leave_the_data_directory_are_refused(
    tmp_path: Path, name: str, why: str
) -> None:
    with pytest.raises(OutsideDataDir, match=why):
        inside(tmp_path / "data", name)


@pytest.mark.unit
def test_a_symlink_out_of_the_data_directory_is_refused(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    (data / "out").symlink_to(elsewhere)
    (data / "file.json").symlink_to(elsewhere / "file.json")
    (data / "fine.json").symlink_to(data / "real.json")
    for name in ("out/x.json", "file.json"):
        with pytest.raises(OutsideDataDir, match="outside"):
            inside(data, name)
    assert inside(data, "fine.json") == data.resolve() / "real.json"


@pytest.mark.unit
def test_a_configured_token_is_used_and_must_be_long(tmp_path: Path) -> None:
    assert admin_token.resolve(SecretStr("t" * 16), tmp_path) == "t" * 16
    assert not (tmp_path / "admin-token").exists()
    with pytest.raises(admin_token.AdminTokenError) as error:
        admin_token.resolve(SecretStr("short-secret"), tmp_path)
    assert "short-secret" not in str(error.value)


@pytest.mark.unit
def test_without_a_token_one_is_generated_private_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = admin_token.resolve(None, data)
    path = data / "admin-token"
    assert path.read_text().strip() == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert data.stat().st_mode & 0o777 == 0o700
    assert admin_token.resolve(None, data) == first  # a restart keeps it
    os.chmod(path, 0o644)  # readable by others: not trusted, replaced
    second = admin_token.resolve(None, data)
    assert second != first
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.unit
def test_the_token_check_wants_the_exact_value() -> None:
    assert admin_token.matches("a" * 20, "a" * 20)
    assert not admin_token.matches("a" * 20, None)
    assert not admin_token.matches("a" * 20, "a" * 19)
    assert not admin_token.matches("a" * 20, "a" * 19 + "b")
    assert not admin_token.matches("a" * 20, "")


@pytest.mark.unit
def test_the_data_directory_defaults_to_the_snapshots_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert VenueSettings(data_dir=tmp_path / "d").resolved_data_dir() == tmp_path / "d"
    with_snapshot = VenueSettings(snapshot_path=tmp_path / "s" / "state.json")
    assert with_snapshot.resolved_data_dir() == tmp_path / "s"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    expected = tmp_path / "state" / "eternal-engine" / "paper-venue"
    assert VenueSettings().resolved_data_dir() == expected
    monkeypatch.setenv("PAPER_VENUE_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("PAPER_VENUE_ADMIN_TOKEN", "e" * 20)
    loaded = VenueSettings.load()
    assert loaded.resolved_data_dir() == tmp_path / "env"
    assert loaded.admin_token is not None
    assert loaded.admin_token.get_secret_value() == "e" * 20
    assert "e" * 20 not in repr(loaded)
