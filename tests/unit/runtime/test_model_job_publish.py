"""The training Job's publish step: what goes into the ConfigMap, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine_runtime.model_job.publish import PublishError, collect, metrics_of
from engine_runtime.train.artifact import MAX_PUBLISHED_BYTES, PUBLISHED_FILES

pytestmark = pytest.mark.unit


def artifact(out: Path, model_bytes: int) -> Path:
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"modelSha256": "ab" * 32}))
    (out / "model.json").write_text("x" * model_bytes)
    (out / "report.html").write_text("<html>not published</html>")
    return out


def test_only_the_published_files_are_collected(tmp_path: Path) -> None:
    files = collect(artifact(tmp_path / "out", 1000))
    assert sorted(files) == sorted(PUBLISHED_FILES)  # the report stays behind


def test_an_artifact_over_the_configmap_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match=r"take \d+ bytes; a ConfigMap holds at most 1 MiB"):
        collect(artifact(tmp_path / "out", MAX_PUBLISHED_BYTES))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    out = artifact(tmp_path / "out", 10)
    (out / "model.json").unlink()
    with pytest.raises(PublishError, match=r"model\.json"):
        collect(out)


def test_metrics_are_the_numbers_of_the_last_line_nested_ones_by_joined_names() -> None:
    line = json.dumps({
        "events": 120, "auc": 0.61234567, "precision": 0.5, "baseRate": None, "note": "text",
        "filtered": {"trades": 12, "meanReturn": 0.0012}, "backtest": {"filtered": "0.0312"},
        "ok": True,
    })  # fmt: skip
    assert metrics_of(line) == {
        "events": "120", "auc": "0.6123", "precision": "0.5000", "filteredTrades": "12",
        "filteredMeanReturn": "0.0012", "backtestFiltered": "0.0312",
    }  # fmt: skip
    assert metrics_of("artifact: written") == {}
    assert metrics_of("[1, 2]") == {}
