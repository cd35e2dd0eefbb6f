"""Rendering an Engine's objects: no cluster needed."""

from __future__ import annotations

import json
import re

import pytest

from eternal_kernel.api.runtime_config import RuntimeConfig
from eternal_kernel.api.v1alpha1 import Engine, names
from eternal_operator.controllers.engine import render
from eternal_operator.settings import OperatorSettings
from support.malformed import sample

pytestmark = pytest.mark.unit

REF = render.EngineRef(name="trend", namespace="fleet", uid="0000-1111")
SETTINGS = OperatorSettings(runtime_image="example/runtime:1", simulator_url="http://venue:8399")


def engine(**spec: object) -> Engine:
    manifest = sample("engine-trend.yaml")
    manifest["spec"].update(spec)
    return Engine.model_validate(manifest)


def by_kind(objs: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(o["kind"]): o for o in objs}


def test_every_object_is_owned_by_the_engine() -> None:
    objs = render.render_all(engine(), REF, SETTINGS, replicas=1)
    assert sorted(by_kind(objs)) == sorted(
        ["ConfigMap", "Deployment", "ServiceAccount", "Role", "RoleBinding", "Service"]
    )
    for obj in objs:
        (owner,) = obj["metadata"]["ownerReferences"]  # type: ignore[index]
        assert owner == {
            "apiVersion": "trading.eternal-engine.io/v1alpha1",
            "kind": "Engine",
            "name": "trend",
            "uid": "0000-1111",
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert obj["metadata"]["namespace"] == "fleet"  # type: ignore[index]


def test_deployment_is_one_replica_recreate_non_root() -> None:
    dep = render.render_all(engine(), REF, SETTINGS, replicas=1)[-1]
    spec = dep["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "example/runtime:1"
    assert container["command"] == ["python", "-m", "engine_runtime"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_keys_come_from_the_secret_by_reference_only() -> None:
    dep = render.render_all(engine(), REF, SETTINGS, replicas=1)[-1]
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BYBIT_API_KEY"] == {
        "name": "BYBIT_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "trend-venue-credentials", "key": "apiKey"}},
    }
    assert "value" not in env["BYBIT_API_SECRET"]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [
        {"secretRef": {"name": "eternal-engine-runtime-env", "optional": True}}
    ]
    named = engine(credentials={"secretName": "mine", "apiKeyKey": "k", "apiSecretKey": "s"})
    dep = render.render_all(named, REF, SETTINGS, replicas=1)[-1]
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BYBIT_API_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "mine", "key": "s"}


def test_config_map_holds_the_resolved_runtime_config() -> None:
    cm = render.render_all(engine(), REF, SETTINGS, replicas=1)[0]
    config = RuntimeConfig.model_validate(json.loads(cm["data"]["engine.json"]))
    assert config.engine.name == "trend"
    assert config.symbols == ["BTCUSDT", "ETHUSDT"]
    assert config.endpoints.rest_url == "http://venue:8399"
    assert config.endpoints.public_ws_url == "ws://venue:8399"
    assert config.params["smaFast"] == 50
    assert config.params["atrPeriod"] == 14  # a default the manifest did not state


def test_a_spec_change_changes_the_pod_template() -> None:
    before = render.render_all(engine(), REF, SETTINGS, replicas=1)[-1]
    after = render.render_all(engine(symbols=["BTCUSDT"]), REF, SETTINGS, replicas=1)[-1]
    same = render.render_all(engine(), REF, SETTINGS, replicas=1)[-1]
    key = render.CONFIG_HASH_ANNOTATION
    annotations = [d["spec"]["template"]["metadata"]["annotations"][key] for d in (before, after)]
    assert annotations[0] != annotations[1]
    assert same == before


def test_role_grants_its_own_engine_and_reading_the_policies() -> None:
    role = by_kind(render.render_all(engine(), REF, SETTINGS, replicas=1))["Role"]
    assert role["rules"] == [
        {
            "apiGroups": ["trading.eternal-engine.io"],
            "resources": ["engines"],
            "resourceNames": ["trend"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": ["trading.eternal-engine.io"],
            "resources": ["engines/status"],
            "resourceNames": ["trend"],
            "verbs": ["get", "patch"],
        },
        {
            "apiGroups": ["trading.eternal-engine.io"],
            "resources": ["circuitbreakerpolicies"],
            "verbs": ["get", "list", "watch"],
        },
    ]


def test_resources_default_and_follow_the_spec() -> None:
    dep = render.render_all(engine(), REF, SETTINGS, replicas=1)[-1]
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"] == render.DEFAULT_RESOURCES
    custom = engine(resources={"requests": {"cpu": "250m"}, "limits": {"memory": "1Gi"}})
    dep = render.render_all(custom, REF, SETTINGS, replicas=0)[-1]
    assert dep["spec"]["replicas"] == 0
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "250m"},
        "limits": {"memory": "1Gi"},
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # A memory limit below the default request: the default request must not be rendered.
        (
            {"limits": {"memory": "128Mi"}},
            {"requests": {"cpu": "100m"}, "limits": {"memory": "128Mi"}},
        ),
        # A memory request above the default limit: the default limit must not be rendered.
        (
            {"requests": {"memory": "1Gi"}},
            {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {}},
        ),
        (
            {"requests": {"cpu": 1}, "limits": {"cpu": 2}},
            {
                "requests": {"cpu": "1", "memory": "256Mi"},
                "limits": {"cpu": "2", "memory": "512Mi"},
            },
        ),
    ],
)
def test_a_default_never_contradicts_a_resource_the_spec_sets(
    given: dict[str, dict[str, object]], expected: dict[str, dict[str, str]]
) -> None:
    dep = render.render_all(engine(resources=given), REF, SETTINGS, replicas=1)[-1]
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"] == expected


def test_every_derived_name_fits_for_the_longest_name_the_crd_allows() -> None:
    longest = "e" * names.ENGINE_NAME_MAX
    assert names.engine_name_problem(longest) is None
    assert names.engine_name_problem(longest + "e") is not None
    ref = render.EngineRef(name=longest, namespace="fleet", uid="u")
    objs = render.render_all(engine(), ref, SETTINGS, replicas=1)
    service = by_kind(objs)["Service"]["metadata"]["name"]  # type: ignore[index]
    assert len(service) == 63  # a DNS-1035 label at its limit
    assert re.fullmatch(names.DNS_1035_LABEL, service)
    for obj in objs:
        assert len(obj["metadata"]["name"]) <= 253  # type: ignore[index]
        assert all(len(v) <= 63 for v in obj["metadata"]["labels"].values())  # type: ignore[index]
    assert len(render.credentials_ref(engine(), ref)[0]) <= 253


def meta_trend(**params: object) -> Engine:
    return engine(strategy="meta-trend", params={"metaTrend": params})


def test_a_meta_trend_engine_mounts_its_model_and_restarts_on_a_new_one() -> None:
    model = {"data": {"manifest.json": "{}", "model.json": "{}"}}
    dep = render.render_all(meta_trend(modelConfigMap="mt-model"), REF, SETTINGS, replicas=1,
                            model=model)[-1]  # fmt: skip
    pod = dep["spec"]["template"]  # type: ignore[index]
    (container,) = pod["spec"]["containers"]
    assert {"name": "model", "configMap": {"name": "mt-model"}} in pod["spec"]["volumes"]
    assert {"name": "model", "mountPath": "/etc/eternal-engine/model", "readOnly": True} in (
        container["volumeMounts"]
    )
    assert {"name": "EE_MODEL_DIR", "value": "/etc/eternal-engine/model"} in container["env"]
    first = pod["metadata"]["annotations"][render.MODEL_HASH_ANNOTATION]
    retrained = {"data": {"manifest.json": "{}", "model.json": '{"trees": 1}'}}
    again = render.render_all(meta_trend(modelConfigMap="mt-model"), REF, SETTINGS, replicas=1,
                              model=retrained)[-1]  # fmt: skip
    annotations = again["spec"]["template"]["metadata"]["annotations"]  # type: ignore[index]
    assert annotations[render.MODEL_HASH_ANNOTATION] != first  # a new pod template: a restart
    missing = render.render_all(meta_trend(modelConfigMap="mt-model"), REF, SETTINGS, replicas=1)
    annotations = missing[-1]["spec"]["template"]["metadata"]["annotations"]  # type: ignore[index]
    assert annotations[render.MODEL_HASH_ANNOTATION] == "absent"


def test_an_engine_without_a_model_mounts_none() -> None:
    for subject in (engine(), meta_trend()):
        dep = render.render_all(subject, REF, SETTINGS, replicas=1)[-1]
        pod = dep["spec"]["template"]  # type: ignore[index]
        assert all(v["name"] != "model" for v in pod["spec"]["volumes"])
        assert render.MODEL_HASH_ANNOTATION not in pod["metadata"]["annotations"]
        assert all(e["name"] != "EE_MODEL_DIR" for e in pod["spec"]["containers"][0]["env"])
