"""The JSON log line: its own fields stay its own, whatever a record's extra fields are named."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from engine_runtime.reporting.logs import JsonFormatter, Redactor

pytestmark = pytest.mark.unit


def line(**extra: Any) -> dict[str, Any]:
    formatter = JsonFormatter(Redactor(["SECRETVALUE"]), {"engine": "ns/e", "pod": "e-pod"})
    record = logging.getLogger("t").makeRecord(
        "t", logging.INFO, __file__, 1, "directive applied", (), None, extra=extra
    )
    return dict(json.loads(formatter.format(record)))


def test_an_extra_named_like_a_field_of_the_line_does_not_overwrite_it() -> None:
    out = line(level=0, engine="other", pod="p2", ts=1, logger="x", exc="no", sequence=3)
    assert out["level"] == "INFO"
    assert out["engine"] == "ns/e"
    assert out["pod"] == "e-pod"
    assert out["logger"] == "t"
    assert out["msg"] == "directive applied"
    assert "exc" not in out  # no exception: the extra did not pose as one
    assert (out["extra_level"], out["extra_engine"], out["extra_pod"]) == (0, "other", "p2")
    assert (out["extra_ts"], out["extra_logger"], out["extra_exc"]) == (1, "x", "no")
    assert out["sequence"] == 3


def test_a_renamed_extra_does_not_overwrite_another_extra() -> None:
    out = line(level=2, extra_level="mine")
    assert out["level"] == "INFO"
    assert {out["extra_level"], out["extra_extra_level"]} == {2, "mine"}


def test_extras_are_redacted_too() -> None:
    assert "SECRETVALUE" not in json.dumps(line(level="key SECRETVALUE"))
