"""The local pod runner runs the operator's batch/v1 Jobs against a real kube-apiserver: plain
and Indexed completions under a parallelism bound, restartPolicy Never and OnFailure against
backoffLimit, activeDeadlineSeconds, and a status that `kubectl wait` (a watch) reads as it
would on a cluster."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from support.kube import apply, get
from support.podrunner import Runner
from support.waiting import wait_for

pytestmark = pytest.mark.cluster
MANAGED_BY = "app.kubernetes.io/managed-by"

# A pod: records its start, its index (env and annotation), sleeps, records its end, and exits
# with code 3 on its first FAIL_TIMES runs (counted per index in the output directory; only for
# index FAIL_INDEX if that is set).
POD_SCRIPT = """
import json, os, pathlib, sys, time
out = pathlib.Path(os.environ["OUT"])
index = os.environ.get("JOB_COMPLETION_INDEX", "-")
runs = out / f"runs-{index}"
with runs.open("a") as f:
    f.write("x")
record = {"index": index, "annotation": os.environ.get("ANNOTATED_INDEX"),
          "start": time.time(), "pid": os.getpid()}
time.sleep(float(os.environ.get("SLEEP", "0.5")))
record["end"] = time.time()
with (out / "records.jsonl").open("a") as f:
    f.write(json.dumps(record) + "\\n")
if os.environ.get("FAIL_INDEX", index) == index:
    if len(runs.read_text()) <= int(os.environ.get("FAIL_TIMES", "0")):
        sys.exit(3)
"""


def job(name: str, out: Path, *, restart: str = "Never", **spec: Any) -> dict[str, Any]:
    env = {k: str(v) for k, v in spec.pop("env", {}).items()}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {MANAGED_BY: "eternal-engine-operator"}},
        "spec": {
            **spec,
            "template": {"spec": {
                "restartPolicy": restart, "terminationGracePeriodSeconds": 2,
                "automountServiceAccountToken": False,
                "containers": [{
                    "name": "main", "image": "unused", "command": ["python", "-c", POD_SCRIPT],
                    "env": [
                        {"name": "OUT", "value": str(out)},
                        {"name": "ANNOTATED_INDEX", "valueFrom": {"fieldRef": {"fieldPath":
                            "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
                        *({"name": k, "value": v} for k, v in env.items()),
                    ],
                }],
            }},
        },
    }  # fmt: skip


def records(out: Path) -> list[dict[str, Any]]:
    path = out / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def most_at_once(runs: list[dict[str, Any]]) -> int:
    edges = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def wait_condition(plane: ControlPlane, ns: str, name: str, condition: str) -> dict[str, Any]:
    """`kubectl wait` (a watch on the Job) for the condition; the Job as it is then."""
    plane.kubectl("wait", f"job/{name}", "-n", ns, f"--for=condition={condition}",
                  "--timeout=50s")  # fmt: skip
    found = get(plane, "job", name, ns)
    assert found is not None
    return found


def conditions(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in found["status"]["conditions"]}


def counts(found: dict[str, Any], *keys: str) -> tuple[int, ...]:
    """Status counters; the API server leaves out those that are 0, as it does on a cluster."""
    return tuple(int(found["status"].get(k, 0)) for k in keys)


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_a_job_runs_its_completions_at_most_parallelism_at_a_time(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    apply(control_plane, namespace, job("plain", tmp_path, completions=3, parallelism=2))
    with Runner(control_plane, tmp_path / "runner"):
        found = wait_condition(control_plane, namespace, "plain", "Complete")
    row = control_plane.kubectl("get", "job", "plain", "-n", namespace, "--no-headers").stdout
    assert row.split()[1:3] == ["Complete", "3/3"]  # kubectl's STATUS and COMPLETIONS
    status = found["status"]
    assert counts(found, "succeeded", "failed", "active") == (3, 0, 0)
    assert "completedIndexes" not in status
    assert set(conditions(found)) == {"SuccessCriteriaMet", "Complete"}
    assert conditions(found)["Complete"]["reason"] == "CompletionsReached"
    assert seconds(status["startTime"]) <= seconds(status["completionTime"])
    runs = records(tmp_path)
    assert len(runs) == 3  # exactly the completions: none more
    assert most_at_once(runs) == 2
    assert {r["index"] for r in runs} == {"-"}  # a NonIndexed pod has no index


def test_an_indexed_job_gives_each_pod_its_index_and_reports_the_completed_ones(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    # Index 1 fails its first run: that index alone is retried, in a new pod.
    apply(control_plane, namespace, job(
        "indexed", tmp_path / "a", completions=3, parallelism=3, completionMode="Indexed",
        backoffLimit=2, env={"FAIL_INDEX": 1, "FAIL_TIMES": 1},
    ))  # fmt: skip
    # Both indexes fail: 2 failures > backoffLimit 1, so this one fails.
    apply(control_plane, namespace, job(
        "failing", tmp_path / "b", completions=2, parallelism=2, completionMode="Indexed",
        backoffLimit=1, env={"FAIL_TIMES": 99},
    ))  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with Runner(control_plane, tmp_path / "runner"):
        found = wait_condition(control_plane, namespace, "indexed", "Complete")
        failed = wait_condition(control_plane, namespace, "failing", "Failed")
    status = found["status"]
    assert status["completedIndexes"] == "0-2"
    assert counts(found, "succeeded", "failed") == (3, 1)
    runs = records(tmp_path / "a")
    assert sorted(r["index"] for r in runs) == ["0", "1", "1", "2"]
    assert all(r["annotation"] == r["index"] for r in runs)  # the downward API sees it too
    assert most_at_once(runs[:3]) == 3  # the first three ran side by side
    assert counts(failed, "failed", "succeeded") == (2, 0)
    assert conditions(failed)["Failed"]["reason"] == "BackoffLimitExceeded"
    assert failed["status"].get("completedIndexes", "") == ""


def test_a_failing_job_is_retried_up_to_its_backoff_limit_then_fails(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    apply(control_plane, namespace, job(
        "failing", tmp_path, backoffLimit=2, env={"FAIL_TIMES": 99, "SLEEP": 0}
    ))  # fmt: skip
    with Runner(control_plane, tmp_path / "runner"):
        found = wait_condition(control_plane, namespace, "failing", "Failed")
    status = found["status"]
    assert counts(found, "failed", "succeeded", "active") == (3, 0, 0)
    assert set(conditions(found)) == {"FailureTarget", "Failed"}
    assert conditions(found)["Failed"]["reason"] == "BackoffLimitExceeded"
    assert "completionTime" not in status  # only a completed Job has one
    assert len(records(tmp_path)) == 3  # backoffLimit 2: the first pod and two more
    assert len({r["pid"] for r in records(tmp_path)}) == 3


def test_on_failure_restarts_the_container_in_its_pod(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    apply(control_plane, namespace, job(
        "restarts", tmp_path, restart="OnFailure", backoffLimit=3,
        env={"FAIL_TIMES": 2, "SLEEP": 0},
    ))  # fmt: skip
    with Runner(control_plane, tmp_path / "runner"):
        found = wait_condition(control_plane, namespace, "restarts", "Complete")
    # Two restarts in place: no pod failed, so `failed` stays 0, as on a cluster.
    assert counts(found, "succeeded", "failed") == (1, 0)
    assert len(records(tmp_path)) == 3


def test_a_job_past_its_active_deadline_is_stopped_and_fails(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    apply(control_plane, namespace, job(
        "slow", tmp_path, activeDeadlineSeconds=2, env={"SLEEP": 600}
    ))  # fmt: skip
    with Runner(control_plane, tmp_path / "runner"):
        found = wait_condition(control_plane, namespace, "slow", "Failed")
        assert conditions(found)["Failed"]["reason"] == "DeadlineExceeded"
        assert counts(found, "failed", "active") == (1, 0)
        assert records(tmp_path) == []  # killed in its sleep: it never wrote its end


def test_a_restarted_runner_resumes_a_job_from_its_status(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    apply(control_plane, namespace, job("resumed", tmp_path, completions=3, env={"SLEEP": 0.3}))

    def succeeded() -> int:
        found = get(control_plane, "job", "resumed", namespace)
        return counts(found, "succeeded")[0] if found and "status" in found else 0

    with Runner(control_plane, tmp_path / "runner"):
        wait_for(lambda: succeeded() >= 1, 30, "a first completion")
    done_before = succeeded()
    with Runner(control_plane, tmp_path / "runner-2"):
        found = wait_condition(control_plane, namespace, "resumed", "Complete")
    assert counts(found, "succeeded") == (3,)
    # What the first runner saw succeed is not run again (one pod may have finished unseen
    # while that runner stopped).
    assert 3 <= len(records(tmp_path)) <= 3 + (1 if done_before < 3 else 0)
