"""Pure functions from an Engine to the Kubernetes objects its runtime needs.

No I/O here: the reconciler applies what these return, and unit tests call them directly.
Every object carries an owner reference to the Engine, so deleting the Engine removes them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from eternal_kernel.api.runtime_config import EngineIdentity, RuntimeConfig, endpoints_for
from eternal_kernel.api.v1alpha1 import GROUP, Engine, Strategy, names
from eternal_kernel.api.v1alpha1.strategy_params import MODEL_DIR_ENV, MODEL_MOUNT_PATH
from eternal_operator.controllers.owned import owned_meta, standard_labels
from eternal_operator.settings import OperatorSettings

Obj = dict[str, Any]

ENGINE_LABEL = f"{GROUP}/engine"
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
MODEL_HASH_ANNOTATION = f"{GROUP}/model-hash"
CONFIG_KEY = "engine.json"
CONFIG_MOUNT = "/etc/eternal-engine"
RUNTIME_UID = 10001
DEFAULT_RESOURCES: Obj = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "512Mi"},
}


@dataclass(frozen=True)
class RuntimeNames:
    """Names of the objects owned by one Engine."""

    config_map: str
    deployment: str
    service_account: str
    role: str
    role_binding: str
    service: str

    @classmethod
    def of(cls, engine_name: str) -> RuntimeNames:
        """Built as names.py says, where the rule that keeps them valid lives too."""
        runtime = names.derived(engine_name, names.RUNTIME)
        return cls(
            config_map=names.derived(engine_name, names.CONFIG_MAP),
            deployment=runtime,
            service_account=runtime,
            role=runtime,
            role_binding=runtime,
            service=names.derived(engine_name, names.METRICS_SERVICE),
        )


@dataclass(frozen=True)
class EngineRef:
    """The identity of the Engine being rendered (metadata the spec model does not carry)."""

    name: str
    namespace: str
    uid: str


def credentials_ref(engine: Engine, ref: EngineRef) -> tuple[str, str, str]:
    """(Secret name, API key key, API secret key) the runtime's keys come from."""
    creds = engine.spec.credentials
    if creds is not None:
        return creds.secret_name, creds.api_key_key, creds.api_secret_key
    return names.derived(ref.name, names.CREDENTIALS_SECRET), "apiKey", "apiSecret"


RUNTIME_APP = "eternal-engine-runtime"


def labels(ref: EngineRef) -> dict[str, str]:
    return {
        **standard_labels(RUNTIME_APP, "runtime", ref.name),
        ENGINE_LABEL: ref.name,
    }


def object_meta(name: str, ref: EngineRef, **extra: Any) -> Obj:
    return owned_meta(name, ref.namespace, labels(ref), "Engine", ref.name, ref.uid, **extra)


def runtime_config(engine: Engine, ref: EngineRef, settings: OperatorSettings) -> RuntimeConfig:
    spec = engine.spec
    return RuntimeConfig(
        engine=EngineIdentity(name=ref.name, namespace=ref.namespace, uid=ref.uid),
        strategy=spec.strategy,
        params=spec.strategy_params().model_dump(mode="json", by_alias=True),
        symbols=list(spec.symbols),
        venue=spec.venue,
        endpoints=endpoints_for(spec.venue, settings.simulator_url, settings.venue_ws_url()),
        subaccount=spec.subaccount,
        risk=spec.risk,
        metrics_port=settings.runtime_metrics_port,
        health_port=settings.runtime_health_port,
    )


def config_map(engine: Engine, ref: EngineRef, settings: OperatorSettings) -> Obj:
    config = runtime_config(engine, ref, settings).model_dump(mode="json", by_alias=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(RuntimeNames.of(ref.name).config_map, ref),
        "data": {CONFIG_KEY: json.dumps(config, indent=2, sort_keys=True) + "\n"},
    }


def config_hash(config_map_obj: Obj) -> str:
    """Changes whenever the runtime's config does, so the Deployment rolls."""
    text = json.dumps(config_map_obj["data"], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_config_map(engine: Engine) -> str | None:
    """The ConfigMap with the Engine's trained model, if its strategy reads one."""
    if engine.spec.strategy is not Strategy.META_TREND:
        return None
    params = engine.spec.params.meta_trend
    return params.model_config_map if params is not None else None


def model_hash(config_map_obj: Obj | None) -> str:
    """Changes whenever the model ConfigMap's content does, so the runtime restarts on a new
    model ("absent" until the ConfigMap exists)."""
    if config_map_obj is None:
        return "absent"
    data = {**(config_map_obj.get("data") or {}), **(config_map_obj.get("binaryData") or {})}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _resources(engine: Engine) -> Obj:
    """The spec's resources; a default only for a resource the spec names in neither map, so a
    default can never sit on the wrong side of a request or limit the spec sets."""
    given = engine.spec.resources
    named = set(given.requests) | set(given.limits)
    out: Obj = {}
    for part, values in (("requests", given.requests), ("limits", given.limits)):
        defaults = {k: v for k, v in DEFAULT_RESOURCES[part].items() if k not in named}
        out[part] = {**defaults, **{k: str(v) for k, v in values.items()}}
    return out


def _env(engine: Engine, ref: EngineRef) -> list[Obj]:
    secret, key_key, secret_key = credentials_ref(engine, ref)
    return [
        {"name": "EE_CONFIG_PATH", "value": f"{CONFIG_MOUNT}/{CONFIG_KEY}"},
        {"name": "EE_ENGINE_NAME", "value": ref.name},
        {
            "name": "EE_ENGINE_NAMESPACE",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        },
        {"name": "EE_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {
            "name": "BYBIT_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key_key}},
        },
        {
            "name": "BYBIT_API_SECRET",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": secret_key}},
        },
    ]


def _env_from(settings: OperatorSettings) -> Obj:
    if not settings.runtime_env_secret:
        return {}
    return {"envFrom": [{"secretRef": {"name": settings.runtime_env_secret, "optional": True}}]}


def deployment(
    engine: Engine,
    ref: EngineRef,
    settings: OperatorSettings,
    *,
    replicas: int,
    cfg_hash: str,
    mdl_hash: str | None = None,
) -> Obj:
    """One replica, Recreate: two pods must never trade one subaccount. A meta-trend Engine's
    model ConfigMap is mounted read-only at MODEL_MOUNT_PATH (env MODEL_DIR_ENV names it), and
    its content hash `mdl_hash` annotates the pod template, so a new model restarts the
    runtime."""
    names = RuntimeNames.of(ref.name)
    pod_labels = labels(ref)
    health = settings.runtime_health_port
    probe = {"httpGet": {"port": "health"}, "timeoutSeconds": 3}
    env = _env(engine, ref)
    mounts: list[Obj] = [
        {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, not the host's
    ]
    volumes: list[Obj] = [
        {"name": "config", "configMap": {"name": names.config_map}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    annotations = {CONFIG_HASH_ANNOTATION: cfg_hash}
    model = model_config_map(engine)
    if model is not None:
        env.append({"name": MODEL_DIR_ENV, "value": MODEL_MOUNT_PATH})
        mounts.append({"name": "model", "mountPath": MODEL_MOUNT_PATH, "readOnly": True})
        volumes.append({"name": "model", "configMap": {"name": model}})
        annotations[MODEL_HASH_ANNOTATION] = mdl_hash or "absent"
    container = {
        "name": "runtime",
        "image": engine.spec.image or settings.runtime_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "engine_runtime"],
        "env": env,
        **_env_from(settings),
        "ports": [
            {"name": "metrics", "containerPort": settings.runtime_metrics_port},
            {"name": "health", "containerPort": health},
        ],
        "livenessProbe": {
            **probe,
            "httpGet": {"path": "/healthz", "port": "health"},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "readinessProbe": {
            **probe,
            "httpGet": {"path": "/readyz", "port": "health"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "resources": _resources(engine),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(names.deployment, ref),
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {ENGINE_LABEL: ref.name}},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": annotations},
                "spec": {
                    "serviceAccountName": names.service_account,
                    "automountServiceAccountToken": True,
                    "terminationGracePeriodSeconds": 60,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUNTIME_UID,
                        "runAsGroup": RUNTIME_UID,
                        "fsGroup": RUNTIME_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def service_account(ref: EngineRef) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": object_meta(RuntimeNames.of(ref.name).service_account, ref),
    }


def role(ref: EngineRef) -> Obj:
    """The runtime may read and watch its own Engine and patch its status (the API server's
    admission policy lets it change only `status.runtime` there), and read the namespace's
    CircuitBreakerPolicies, to hear a halt from the policy that latched it; nothing more."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": object_meta(RuntimeNames.of(ref.name).role, ref),
        "rules": [
            {
                "apiGroups": [GROUP],
                "resources": ["engines"],
                "resourceNames": [ref.name],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": [GROUP],
                "resources": ["engines/status"],
                "resourceNames": [ref.name],
                "verbs": ["get", "patch"],
            },
            {
                "apiGroups": [GROUP],
                "resources": ["circuitbreakerpolicies"],
                "verbs": ["get", "list", "watch"],
            },
        ],
    }


def role_binding(ref: EngineRef) -> Obj:
    names = RuntimeNames.of(ref.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": object_meta(names.role_binding, ref),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": names.role},
        "subjects": [
            {"kind": "ServiceAccount", "name": names.service_account, "namespace": ref.namespace}
        ],
    }


def service(ref: EngineRef, settings: OperatorSettings) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(RuntimeNames.of(ref.name).service, ref),
        "spec": {
            "type": "ClusterIP",
            "selector": {ENGINE_LABEL: ref.name},
            "ports": [
                {
                    "name": "metrics",
                    "port": settings.runtime_metrics_port,
                    "targetPort": "metrics",
                    "protocol": "TCP",
                }
            ],
        },
    }


def render_all(
    engine: Engine,
    ref: EngineRef,
    settings: OperatorSettings,
    *,
    replicas: int,
    model: Obj | None = None,
) -> list[Obj]:
    """Every object the Engine owns, in the order they should be applied; `model` is the live
    model ConfigMap (`model_config_map`), if any."""
    cm = config_map(engine, ref, settings)
    return [
        cm,
        service_account(ref),
        role(ref),
        role_binding(ref),
        service(ref, settings),
        deployment(
            engine,
            ref,
            settings,
            replicas=replicas,
            cfg_hash=config_hash(cm),
            mdl_hash=model_hash(model),
        ),
    ]
