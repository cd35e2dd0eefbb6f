"""The Backtest API model, its CRD and the Indexed Job the operator renders from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from eternal_kernel.api import crdgen
from eternal_kernel.api.kinds import KINDS
from eternal_kernel.api.v1alpha1 import Backtest, BacktestSpec
from eternal_kernel.api.v1alpha1.backtest import MAX_COMBINATIONS, combinations
from eternal_operator.controllers.backtest import render
from eternal_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[3] / "manifests" / "samples" / "backtest-sma-cross.yaml"
REF = render.BacktestRef(name="sweep", namespace="lab", uid="u-1")
SETTINGS = OperatorSettings(runtime_image="example/runtime:1", simulator_url="http://venue:8399")
CANDLES = {"configMap": {"name": "candles", "files": [{"symbol": "BTCUSDT", "key": "b.csv"}]}}
VOLUME = {
    "volume": {
        "claimName": "history",
        "path": "candles/2025",
        "files": [{"symbol": "BTCUSDT", "file": "BTCUSDT-1m.csv"}],
    }
}


def spec(**fields: Any) -> dict[str, Any]:
    return {
        "strategy": "sma-cross", "symbols": ["BTCUSDT"], "data": CANDLES, "shards": 2,
        "grid": [{"name": "fast", "values": ["5", "10"]}, {"name": "slow", "range": "20:40:10"}],
        **fields,
    }  # fmt: skip


def test_the_sample_is_a_valid_backtest() -> None:
    sample = Backtest.model_validate(yaml.safe_load(SAMPLE.read_text()))
    assert combinations(sample.spec) == 4 * 5
    assert sample.spec.base() == {"fast": 10, "slow": 20, "qty": "0.01"}


@pytest.mark.parametrize(("fields", "message"), [
    ({"data": {}}, "exactly one of venueHistory, configMap and volume"),
    ({"data": {**CANDLES, "volume": VOLUME["volume"]}}, "exactly one of venueHistory, configMap"),
    ({"data": {"volume": {**VOLUME["volume"], "path": "../other"}}}, "no '..'"),
    ({"data": {"volume": {**VOLUME["volume"], "path": "a/../../b"}}}, "no '..'"),
    ({"data": {"volume": {**VOLUME["volume"], "path": "/abs"}}}, "should match pattern"),
    ({"data": {"volume": {**VOLUME["volume"], "files": [{"symbol": "BTCUSDT", "file": ".."}]}}},
     "not '.' or '..'"),
    ({"data": {"volume": {**VOLUME["volume"], "files": [{"symbol": "BTCUSDT", "file": "a/b"}]}}},
     "should match pattern"),
    ({"grid": [{"name": "fast"}]}, "exactly one of values and range"),
    ({"grid": [{"name": "fast", "values": ["5"], "range": "1:2:1"}]}, "exactly one of values"),
    ({"grid": [{"name": "period", "values": ["5"]}]}, "sma-cross has no parameter period"),
    ({"grid": [{"name": "fast", "values": ["0"]}]}, "grid axis fast: 0 Input should be greater"),
    ({"grid": [{"name": "fast", "values": ["5"]}, {"name": "fast", "values": ["6"]}],
      "shards": 1}, "distinct names"),
    ({"grid": [{"name": "fast", "range": "1:100000:1"}]}, f"at most {MAX_COMBINATIONS}"),
    ({"shards": 7}, r"shards \(7\) must not exceed the combinations \(6\)"),
    ({"parallelism": 3}, "parallelism must not exceed shards"),
    ({"shards": 65}, "less than or equal to 64"),
    ({"params": {"trend": {"smaFast": 10}}}, "params may only set smaCross"),
    ({"strategy": "scalper"}, "Input should be"),
    ({"metric": "luck"}, "Input should be"),
])  # fmt: skip
def test_invalid_specs_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BacktestSpec.model_validate(spec(**fields))


def test_a_registry_strategys_axes_are_its_params_blocks_fields() -> None:
    trend = spec(strategy="trend", grid=[{"name": "smaFast", "values": ["10", "20"]}])
    parsed = BacktestSpec.model_validate(trend)
    assert combinations(parsed) == 2
    with pytest.raises(ValidationError, match="trend has no parameter fast"):
        BacktestSpec.model_validate(spec(strategy="trend"))
    # a combination that breaks a rule between fields (fast below slow) is the row's own error,
    # not the spec's: the sweep reports it
    crossing = spec(grid=[{"name": "fast", "values": ["5", "30"]}])
    assert combinations(BacktestSpec.model_validate(crossing)) == 2
    sampled = spec(random=4, seed=3)
    assert combinations(BacktestSpec.model_validate(sampled)) == 4


def test_the_crd_shows_progress_and_keeps_the_spec_immutable() -> None:
    (info,) = [k for k in KINDS if k.kind == "Backtest"]
    version = crdgen.crd(info)["spec"]["versions"][0]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Phase"] == ".status.phase"
    assert columns["Completed"] == ".status.progress"
    assert columns["Best"] == ".status.bestScore"
    assert "Age" in columns
    schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert {"rule": "self == oldSelf",
            "message": "a Backtest's spec is immutable: create a new Backtest"} in (
        schema["x-kubernetes-validations"])  # fmt: skip
    axis = schema["properties"]["grid"]["items"]
    assert axis["x-kubernetes-validations"][0]["rule"] == "has(self.values) != has(self.range)"


def test_the_job_is_indexed_one_completion_per_shard() -> None:
    parsed = BacktestSpec.model_validate(spec(parallelism=2, backoffLimit=3))
    job = render.job(REF, parsed, SETTINGS)
    assert job["metadata"]["name"] == "sweep"
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Backtest", "u-1", True)
    assert job["metadata"]["labels"][render.BACKTEST_LABEL] == "sweep"
    body = job["spec"]
    assert (body["completionMode"], body["completions"], body["parallelism"]) == ("Indexed", 2, 2)
    assert body["backoffLimit"] == 3
    assert body["activeDeadlineSeconds"] == 3600
    pod = body["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False  # shards talk to PostgreSQL only
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "engine_runtime.backtest.shard"]
    assert container["image"] == "example/runtime:1"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert BacktestSpec.model_validate(json.loads(env["EE_BACKTEST_SPEC"])) == parsed
    assert (env["EE_BACKTEST_UID"], env["EE_BACKTEST_NAME"]) == ("u-1", "sweep")
    assert env["EE_CANDLES_DIR"] == render.CANDLES_MOUNT
    assert {"name": "candles", "configMap": {"name": "candles"}} in pod["volumes"]
    secret = container["envFrom"][0]["secretRef"]
    assert secret["name"] == SETTINGS.runtime_env_secret  # EE_DATABASE_URL, as runtimes get it


def test_venue_history_hands_the_shards_the_venues_url() -> None:
    history = {"venueHistory": {"venue": "simulator", "bars": 500}}
    job = render.job(REF, BacktestSpec.model_validate(spec(data=history)), SETTINGS)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["EE_BACKTEST_VENUE_URL"] == "http://venue:8399"
    assert "EE_CANDLES_DIR" not in env


def test_a_volume_is_mounted_read_only_and_its_directory_handed_to_the_shards() -> None:
    job = render.job(REF, BacktestSpec.model_validate(spec(data=VOLUME)), SETTINGS)
    pod = job["spec"]["template"]["spec"]
    assert {
        "name": "candles",
        "persistentVolumeClaim": {"claimName": "history", "readOnly": True},
    } in pod["volumes"]
    (container,) = pod["containers"]
    assert {"name": "candles", "mountPath": render.CANDLES_MOUNT, "readOnly": True} in (
        container["volumeMounts"])  # fmt: skip
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["EE_CANDLES_DIR"] == f"{render.CANDLES_MOUNT}/candles/2025"
    root = {"volume": {k: v for k, v in VOLUME["volume"].items() if k != "path"}}
    job = render.job(REF, BacktestSpec.model_validate(spec(data=root)), SETTINGS)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["EE_CANDLES_DIR"] == render.CANDLES_MOUNT  # no path: the volume's root


def test_the_files_sources_name_their_csvs_alike() -> None:
    """A ConfigMap's keys and a volume's files are one list of (symbol, file name) for the
    shard's one loading rule; the venue's history has none."""
    assert BacktestSpec.model_validate(spec()).data.candle_files() == [("BTCUSDT", "b.csv")]
    volume = BacktestSpec.model_validate(spec(data=VOLUME))
    assert volume.data.candle_files() == [("BTCUSDT", "BTCUSDT-1m.csv")]
    history = BacktestSpec.model_validate(spec(data={"venueHistory": {}}))
    assert history.data.candle_files() is None
