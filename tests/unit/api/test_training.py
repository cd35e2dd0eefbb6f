"""The ModelTraining API model and what the operator renders from it (no cluster needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from eternal_kernel.api.v1alpha1 import Engine, ModelTraining
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams
from eternal_operator.controllers.engine.render import model_config_map
from eternal_operator.controllers.training import render
from eternal_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples" / "meta-trend"
REF = render.TrainingRef(name="mt", namespace="fleet", uid="u-1")
SETTINGS = OperatorSettings(runtime_image="example/runtime:1", simulator_url="http://venue:8399")


def spec(**fields: Any) -> dict[str, Any]:
    return {"outputConfigMap": "mt-model",
            "data": {"venueHistory": {"symbols": ["BTCUSDT"], "days": 30}}, **fields}  # fmt: skip


def plan(**fields: Any) -> render.Plan:
    parsed = ModelTraining.model_validate({"spec": spec(**fields)}).spec
    return render.Plan(parsed, parsed.params or MetaTrendParams())


def test_the_samples_pair_a_training_with_the_engine_that_mounts_its_model() -> None:
    training = ModelTraining.model_validate(yaml.safe_load((SAMPLES / "modeltraining.yaml").open()))
    engine = Engine.model_validate(yaml.safe_load((SAMPLES / "engine.yaml").open()))
    assert training.spec.params_from is not None
    assert training.spec.params_from.engine == engine.metadata.name
    assert model_config_map(engine) == training.spec.output_config_map


@pytest.mark.parametrize(("fields", "message"), [
    ({"data": {}}, "exactly one of venueHistory and configMap"),
    ({"data": {"venueHistory": {"symbols": ["BTCUSDT"]},
               "configMap": {"name": "c", "files": [{"symbol": "BTCUSDT", "key": "b.csv"}]}}},
     "exactly one of venueHistory and configMap"),
    ({"params": {}, "paramsFrom": {"engine": "e"}}, "at most one of params and paramsFrom"),
    ({"outputConfigMap": "Not_A_Name"}, "String should match pattern"),
])  # fmt: skip
def test_invalid_specs_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelTraining.model_validate({"spec": spec(**fields)})


def test_what_is_trained_names_the_job() -> None:
    base = plan()
    assert render.job_name(REF, base) == render.job_name(REF, plan())  # stable
    assert plan(seed=1).spec_hash != base.spec_hash
    assert plan(params={"emaFast": 5}).spec_hash != base.spec_hash
    assert plan(activeDeadlineSeconds=60).spec_hash != base.spec_hash
    assert len(render.job_name(render.TrainingRef("x" * 52, "ns", "u"), base)) <= 63


def test_the_job_trains_from_the_venue_history_in_candles_of_the_interval() -> None:
    job = render.job(REF, plan(params={"interval": "240"}), SETTINGS)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--venue-url") + 1] == "http://venue:8399"
    assert args[args.index("--bars") + 1] == str(30 * 6)  # 4-hour candles
    assert container["command"] == ["python", "-m", "engine_runtime.model_job", "--"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert MetaTrendParams.model_validate_json(env["EE_TRAINING_PARAMS"]).interval.value == "240"
    assert env["EE_MODEL_CONFIG_MAP"] == "mt-model"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "mt-training"
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("ModelTraining", "u-1", True)


def test_the_job_reads_candles_from_the_mounted_configmap() -> None:
    files = {"name": "candles", "files": [
        {"symbol": "BTCUSDT", "key": "btc.csv", "fundingKey": "btc-funding.csv"},
        {"symbol": "ETHUSDT", "key": "eth.csv"},
    ]}  # fmt: skip
    job = render.job(REF, plan(data={"configMap": files}), SETTINGS)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    start = args.index("--candles")
    assert args[start + 1 : start + 3] == [
        "BTCUSDT=$(EE_CANDLES_DIR)/btc.csv", "ETHUSDT=$(EE_CANDLES_DIR)/eth.csv",
    ]  # fmt: skip
    assert args[args.index("--funding") + 1 :] == ["BTCUSDT=$(EE_CANDLES_DIR)/btc-funding.csv"]
    assert {"name": "candles", "configMap": {"name": "candles"}} in pod["volumes"]


def test_the_training_pod_may_update_only_its_output_configmap() -> None:
    (rule,) = render.role(REF, plan())["rules"]
    assert rule == {"apiGroups": [""], "resources": ["configmaps"],
                    "resourceNames": ["mt-model"], "verbs": ["get", "update"]}  # fmt: skip
