"""Runtime integration fixtures: the paper venue (60x clock) as a process, a fresh subaccount
per test, and runtimes started against the session's PostgreSQL and Redis."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pybit.unified_trading import HTTP

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.processes import stop
from support.runtime import Account, RuntimeProcess, make_runtime, new_account, start_fast_venue


@pytest.fixture(scope="session")
def fast_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, process = start_fast_venue(Path(tmp_path_factory.mktemp("fast-venue")))
    yield url
    stop(process)


@pytest.fixture
def account(fast_venue: str) -> Account:
    return new_account(fast_venue, f"rt{secrets.token_hex(4)}")


@pytest.fixture
def venue_http(fast_venue: str, account: Account) -> HTTP:
    """pybit on the test's subaccount: what the venue says, independent of the runtime."""
    return http_session(fast_venue, account.api_key, account.api_secret)


@pytest.fixture
def runtime_factory(
    tmp_path: Path, fast_venue: str, account: Account, postgres: str, redis: str
) -> Iterator[Callable[..., RuntimeProcess]]:
    made: list[RuntimeProcess] = []

    def make(**kw: Any) -> RuntimeProcess:
        name = kw.pop("name", f"rt-{secrets.token_hex(3)}")
        rt = make_runtime(
            tmp_path / name,
            name=name,
            venue_url=fast_venue,
            database_url=postgres,
            redis_url=redis,
            account=account,
            **kw,
        )
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.stop()
