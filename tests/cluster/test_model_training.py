"""ModelTraining against a real kube-apiserver, the operator and the local pod runner: the
training runs as a Job, publishes its artifact into the ConfigMap the operator owns, and the
status says how it went; a meta-trend Engine naming that ConfigMap mounts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eternal_operator.controllers.engine.render import MODEL_HASH_ANNOTATION
from eternal_operator.devtools.controlplane import ControlPlane
from support.engines import SUB1_CREDS, engine_manifest, engine_when, events, phase, sub1_secret
from support.kube import apply, get, secret
from support.podrunner import Runner
from support.waiting import wait_for

pytestmark = pytest.mark.cluster
PREFIX = "mtr"  # the namespaces and the operator of this module (conftest)
API = "trading.eternal-engine.io/v1alpha1"


@pytest.fixture
def runner(control_plane: ControlPlane, tmp_path: Path) -> Iterator[Runner]:
    with Runner(control_plane, tmp_path / "runner") as running:
        yield running


def candles_csv(bars: int, seed: int) -> str:
    """Hourly candles: a random walk with trends that persist (something to learn)."""
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.choice([-0.002, 0.002], size=bars // 48 + 1), 48)[:bars]
    close = 30000 * np.exp(np.cumsum(drift + rng.normal(0, 0.004, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.002, bars)) * close
    high, low = np.maximum(open_, close) + spread, np.minimum(open_, close) - spread
    volume = rng.uniform(50, 150, bars)
    start = np.datetime64("2026-01-01T00:00")
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(bars):
        at = str(start + np.timedelta64(i, "h"))
        lines.append(
            f"{at},{open_[i]:.2f},{high[i]:.2f},{low[i]:.2f},{close[i]:.2f},{volume[i]:.3f}"
        )
    return "\n".join(lines) + "\n"


def candles_config_map(plane: ControlPlane, ns: str, name: str, files: dict[str, str]) -> None:
    apply(plane, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                      "data": files})  # fmt: skip


def training(name: str, output: str, **spec: Any) -> dict[str, Any]:
    data = {"configMap": {"name": "candles", "files": [
        {"symbol": "BTCUSDT", "key": "BTCUSDT.csv"}, {"symbol": "ETHUSDT", "key": "ETHUSDT.csv"},
    ]}}  # fmt: skip
    return {
        "apiVersion": API, "kind": "ModelTraining", "metadata": {"name": name},
        "spec": {"outputConfigMap": output, "data": data, "seed": 7,
                 "activeDeadlineSeconds": 600, **spec},
    }  # fmt: skip


def trained(plane: ControlPlane, ns: str, name: str, phases: set[str], timeout: float = 240
            ) -> dict[str, Any]:  # fmt: skip
    def probe() -> dict[str, Any] | None:
        found = get(plane, "modeltraining", name, ns)
        return found if found and found.get("status", {}).get("phase") in phases else None

    return wait_for(probe, timeout, f"ModelTraining {name} to reach {phases}")


def condition(found: dict[str, Any]) -> dict[str, Any]:
    (trained_condition,) = found["status"]["conditions"]
    return dict(trained_condition)


def test_a_training_publishes_its_model_and_an_engine_runs_on_it(
    control_plane: ControlPlane,
    ns: str,
    runner: Runner,
    venue_sub1: Any,
    postgres: str,
    redis: str,
) -> None:
    candles_config_map(control_plane, ns, "candles", {
        "BTCUSDT.csv": candles_csv(2000, 1), "ETHUSDT.csv": candles_csv(2000, 2),
    })  # fmt: skip
    apply(control_plane, ns, training("mt", "mt-model"))
    found = trained(control_plane, ns, "mt", {"Succeeded", "Failed"})
    assert found["status"]["phase"] == "Succeeded", condition(found)
    status = found["status"]
    assert condition(found)["reason"] == "Trained"
    assert {"precision", "auc"} <= set(status["metrics"])
    assert 0 <= float(status["metrics"]["auc"]) <= 1
    published = get(control_plane, "configmap", "mt-model", ns)
    assert published is not None
    assert set(published["data"]) == {"manifest.json", "model.json"}
    manifest = json.loads(published["data"]["manifest.json"])
    assert status["modelSha256"] == manifest["modelSha256"]
    job = get(control_plane, "job", status["job"], ns)
    assert job is not None
    assert job["status"]["succeeded"] == 1
    # kubectl get shows the phase and the metrics (the CRD's printer columns)
    row = control_plane.kubectl("get", "modeltraining", "mt", "-n", ns, "--no-headers").stdout
    assert row.split()[:3] == ["mt", "Succeeded", status["metrics"]["precision"]]

    # A meta-trend Engine naming the ConfigMap runs on that model: its runtime (a real one, run
    # by the pod runner) starts with the artifact mounted, verifies it and reports.
    sub1_secret(control_plane, ns)
    secret(
        control_plane,
        ns,
        "eternal-engine-runtime-env",
        {"EE_DATABASE_URL": postgres, "EE_REDIS_URL": redis},
    )  # the runtime's data stores
    apply(control_plane, ns, engine_manifest(
        "meta", strategy="meta-trend", symbols=["BTCUSDT", "ETHUSDT"], credentials=SUB1_CREDS,
        params={"metaTrend": {"modelConfigMap": "mt-model"}},
    ))  # fmt: skip
    running = engine_when(control_plane, ns, "meta", lambda e: phase(e) == "Running",
                          "the meta-trend runtime Running", timeout=120)  # fmt: skip
    assert not running["status"]["runtime"].get("startError")
    mounted = next(runner.root.glob(f"pods/{ns}/meta-runtime-*/volumes/model/model.json"))
    assert mounted.read_text() == published["data"]["model.json"]

    # Parameters the model was not trained with: the restarted runtime refuses the model and
    # says why in the Engine's status; it never trades on a model it cannot verify.
    control_plane.kubectl("patch", "engine", "meta", "-n", ns, "--type=merge", "-p",
                          '{"spec": {"params": {"metaTrend": {"emaFast": 5}}}}')  # fmt: skip

    def refused(engine: dict[str, Any]) -> bool:
        error = (engine["status"].get("runtime") or {}).get("startError") or {}
        return "model artifact" in error.get("message", "")

    engine_when(control_plane, ns, "meta", refused, "the runtime refusing the model", 120)


def test_a_failed_training_says_why_and_a_new_spec_trains_again(
    control_plane: ControlPlane, ns: str, runner: Runner
) -> None:
    candles_config_map(control_plane, ns, "candles", {
        "BTCUSDT.csv": "this is not a candle file\n", "ETHUSDT.csv": "nor this\n",
    })  # fmt: skip
    apply(control_plane, ns, training("bad", "bad-model"))
    found = trained(control_plane, ns, "bad", {"Failed"})
    reason = condition(found)
    assert reason["status"] == "False"
    assert reason["reason"] == "TrainingFailed"
    assert "training exited with code" in reason["message"]
    first_job = found["status"]["job"]
    assert any(e["reason"] == "PhaseFailed" for e in events(control_plane, ns, "bad"))
    published = get(control_plane, "configmap", "bad-model", ns)
    assert published is not None
    assert not published.get("data")  # nothing was published

    # Another seed is another training: a new Job, the old one deleted.
    control_plane.kubectl("patch", "modeltraining", "bad", "-n", ns, "--type=merge",
                          "-p", '{"spec": {"seed": 8}}')  # fmt: skip

    def retrained() -> dict[str, Any] | None:
        again = get(control_plane, "modeltraining", "bad", ns)
        status = (again or {}).get("status", {})
        return again if status.get("job") not in (None, first_job) else None

    wait_for(retrained, 30, "a new Job for the new spec")
    wait_for(lambda: get(control_plane, "job", first_job, ns) is None, 30, "the old Job gone")
    again = trained(control_plane, ns, "bad", {"Failed"})
    assert again["status"]["observedGeneration"] == again["metadata"]["generation"]


def test_an_output_configmap_it_does_not_own_is_never_written(
    control_plane: ControlPlane, ns: str
) -> None:
    candles_config_map(control_plane, ns, "someone-elses", {"keep.txt": "mine"})
    apply(control_plane, ns, training("clash", "someone-elses"))
    found = trained(control_plane, ns, "clash", {"Failed"}, timeout=30)
    assert condition(found)["reason"] == "ConfigMapNotOwned"
    assert "job" not in found["status"]  # nothing was started
    kept = get(control_plane, "configmap", "someone-elses", ns)
    assert kept is not None
    assert kept["data"] == {"keep.txt": "mine"}


def test_deleting_a_training_deletes_its_job_and_configmap(
    control_plane: ControlPlane, ns: str
) -> None:
    candles_config_map(control_plane, ns, "candles", {"BTCUSDT.csv": "x\n", "ETHUSDT.csv": "x\n"})
    apply(control_plane, ns, training("gone", "gone-model"))  # no runner: the Job stays pending
    found = trained(control_plane, ns, "gone", {"Pending"}, timeout=30)
    job = found["status"]["job"]
    assert get(control_plane, "job", job, ns) is not None
    control_plane.kubectl("delete", "modeltraining", "gone", "-n", ns)
    wait_for(lambda: get(control_plane, "job", job, ns) is None, 60, "the Job collected")
    wait_for(lambda: get(control_plane, "configmap", "gone-model", ns) is None, 60, "the CM")


def test_a_meta_trend_engine_mounts_its_model_and_restarts_on_a_new_one(
    control_plane: ControlPlane, ns: str
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "mt-model"},
                              "data": {"manifest.json": "{}", "model.json": "{}"}})  # fmt: skip
    apply(control_plane, ns, engine_manifest(
        "meta", strategy="meta-trend", credentials=SUB1_CREDS,
        params={"metaTrend": {"modelConfigMap": "mt-model"}},
    ))  # fmt: skip

    def template() -> dict[str, Any] | None:
        deployment = get(control_plane, "deployment", "meta-runtime", ns)
        return deployment["spec"]["template"] if deployment else None

    pod = wait_for(template, 30, "the runtime's Deployment")
    (container,) = pod["spec"]["containers"]
    assert {"name": "model", "configMap": {"name": "mt-model", "defaultMode": 420}} in (
        pod["spec"]["volumes"]
    )
    assert {"name": "model", "mountPath": "/etc/eternal-engine/model", "readOnly": True} in (
        container["volumeMounts"]
    )
    assert {"name": "EE_MODEL_DIR", "value": "/etc/eternal-engine/model"} in container["env"]
    first = pod["metadata"]["annotations"][MODEL_HASH_ANNOTATION]
    control_plane.kubectl("patch", "configmap", "mt-model", "-n", ns, "--type=merge",
                          "-p", '{"data": {"model.json": "{\\"v\\": 2}"}}')  # fmt: skip
    wait_for(lambda: (t := template()) and t["metadata"]["annotations"][MODEL_HASH_ANNOTATION]
             != first, 30, "a new pod template for the new model")  # fmt: skip
