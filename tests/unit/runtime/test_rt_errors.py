"""The error registry behind `status.runtime.lastError`: set by a failure, cleared by the same
source's next success, the newest error in force reported."""

from __future__ import annotations

import asyncio

import pytest

from engine_runtime.reporting.errors import ErrorRegistry, ErrorSource, task_source

pytestmark = pytest.mark.unit


def test_no_error_at_first_and_after_recovery() -> None:
    errors = ErrorRegistry()
    assert errors.current() is None
    errors.set(ErrorSource.WALLET, "HTTP 503")
    assert errors.current() == "wallet: HTTP 503"
    errors.clear(ErrorSource.WALLET)  # the next read succeeded
    assert errors.current() is None


def test_the_newest_error_in_force_is_reported() -> None:
    errors = ErrorRegistry()
    errors.set(ErrorSource.WALLET, "first")
    errors.set(ErrorSource.RESYNC, "second")
    assert errors.current() == "resync: second"
    errors.set(ErrorSource.WALLET, "third")  # a repeat is newer
    assert errors.current() == "wallet: third"
    errors.clear(ErrorSource.WALLET)
    assert errors.current() == "resync: second"  # still in force
    errors.clear(ErrorSource.RESYNC)
    assert errors.current() is None


def test_a_success_clears_only_its_own_source() -> None:
    errors = ErrorRegistry()
    errors.set(ErrorSource.SUBMIT, "ee-1: 10006")
    errors.set(task_source("Runtime._save_strategy"), "OSError: gone")
    errors.clear(ErrorSource.CANCEL)
    errors.clear(task_source("Dispatcher._fill"))
    assert set(errors.active()) == {"submit", "task Runtime._save_strategy"}
    errors.clear(task_source("Runtime._save_strategy"))
    assert errors.active() == {"submit": "submit: ee-1: 10006"}


def test_a_long_message_is_cut() -> None:
    errors = ErrorRegistry()
    errors.set(ErrorSource.PERSIST, "x" * 5000)
    assert len(errors.current() or "") == 500


async def test_a_background_task_sets_and_clears_its_coroutines_error() -> None:
    errors = ErrorRegistry()
    fail = True

    async def save() -> None:
        if fail:
            raise OSError("disk gone")

    async def other() -> None:
        return None

    failed = asyncio.ensure_future(save())
    await asyncio.wait([failed])
    assert isinstance(errors.task_ended(failed), OSError)
    assert (errors.current() or "").endswith("save: OSError: disk gone")
    done = asyncio.ensure_future(other())
    await asyncio.wait([done])
    assert errors.task_ended(done) is None
    assert errors.current() is not None  # another coroutine's success clears nothing
    fail = False
    again = asyncio.ensure_future(save())
    await asyncio.wait([again])
    errors.task_ended(again)
    assert errors.current() is None
