"""The Job controller's rules the local pod runner applies (devtools.podrunner.jobspec)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from eternal_operator.devtools.podrunner.jobspec import (
    JobSpec,
    Progress,
    format_indexes,
    parse_indexes,
    status,
    verdict,
    wanted,
)

pytestmark = pytest.mark.unit


def spec(**fields: Any) -> JobSpec:
    policy = fields.pop("restartPolicy", "Never")
    return JobSpec.of({"spec": {**fields, "template": {"spec": {"restartPolicy": policy}}}})


def test_defaults_are_kubernetes_defaults() -> None:
    s = spec()
    assert (s.completions, s.parallelism, s.backoff_limit) == (1, 1, 6)
    assert not s.indexed
    assert not s.restart_on_failure
    assert s.active_deadline_s is None


@pytest.mark.parametrize("indexes", [set(), {0}, {0, 1, 2, 5}, {1, 3, 4, 5, 9}, {7}])
def test_completed_indexes_round_trip_in_kubernetes_form(indexes: set[int]) -> None:
    assert parse_indexes(format_indexes(indexes)) == indexes


def test_completed_indexes_compress_runs() -> None:
    assert format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"


def test_pods_wanted_respect_parallelism_and_missing_completions() -> None:
    plain = spec(completions=5, parallelism=2)
    assert wanted(plain, Progress(), []) == [None, None]
    assert wanted(plain, Progress(), [None]) == [None]
    assert wanted(plain, Progress(succeeded=4), []) == [None]  # only one completion missing
    assert wanted(plain, Progress(succeeded=5), []) == []


def test_an_indexed_job_wants_the_indexes_neither_running_nor_done() -> None:
    indexed = spec(completions=4, parallelism=3, completionMode="Indexed")
    assert wanted(indexed, Progress(), []) == [0, 1, 2]
    assert wanted(indexed, Progress(completed={0, 2}), [1]) == [3]
    assert wanted(indexed, Progress(completed={0, 1, 2, 3}), []) == []


def test_verdicts() -> None:
    s = spec(completions=2, backoffLimit=1, activeDeadlineSeconds=10)
    assert verdict(s, Progress(succeeded=1, failed=1), 5) is None
    done = verdict(s, Progress(succeeded=2), 5)
    assert done is not None
    assert done.complete
    failed = verdict(s, Progress(failed=2), 5)
    assert failed is not None
    assert failed.reason == "BackoffLimitExceeded"
    restarted = verdict(s, Progress(restarts=2), 5)  # OnFailure restarts count as well
    assert restarted is not None
    assert restarted.reason == "BackoffLimitExceeded"
    late = verdict(s, Progress(), 10)
    assert late is not None
    assert late.reason == "DeadlineExceeded"


def test_a_finished_status_has_no_active_pods_and_keeps_its_transition_times() -> None:
    s = spec(completions=1)
    started, at = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    result = verdict(s, Progress(succeeded=1), 1)
    assert result is not None
    first = status(s, Progress(succeeded=1), active=1, ready=1, started=started,
                   finished=(result, at), before={})  # fmt: skip
    assert first["active"] == 0
    assert first["completionTime"] == "2026-01-01T00:05:00Z"
    assert [c["type"] for c in first["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    later = datetime(2026, 1, 2, tzinfo=UTC)
    again = status(s, Progress(succeeded=1), active=0, ready=0, started=started,
                   finished=(result, later), before=first)  # fmt: skip
    assert again == first
