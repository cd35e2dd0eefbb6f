"""Runtime-against-the-API-server fixtures: the fast paper venue, a fresh subaccount, and an
Engine object (no operator runs: the tests play the operator's and governance's parts)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from eternal_operator.devtools.processes import stop
from support.runtime import Account, new_account, start_fast_venue


@pytest.fixture(scope="session")
def fast_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, process = start_fast_venue(Path(tmp_path_factory.mktemp("fast-venue")))
    yield url
    stop(process)


@pytest.fixture
def account(fast_venue: str) -> Account:
    return new_account(fast_venue, f"rt{secrets.token_hex(4)}")
