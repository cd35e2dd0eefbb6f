"""Pure functions from a ModelTraining to the objects its training needs: the output ConfigMap
(created empty, owned by the ModelTraining), a ServiceAccount whose Role allows only reading and
updating that one ConfigMap, and the Job that trains and publishes.

The Job's one container runs `python -m engine_runtime.model_job`: it runs the training CLI
(`engine_runtime.train`) into an emptyDir and publishes the artifact's files into the output
ConfigMap (or the reason it failed). Paths inside the pod reach the command line through
`$(VAR)` references to env values, which the kubelet (and the local pod runner) expand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from eternal_kernel.api.runtime_config import endpoints_for
from eternal_kernel.api.v1alpha1 import GROUP
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams
from eternal_kernel.api.v1alpha1.training import ModelTrainingSpec
from eternal_operator.controllers.jobs import container_security_context, pod_security_context
from eternal_operator.controllers.owned import owned_meta, standard_labels
from eternal_operator.settings import OperatorSettings

Obj = dict[str, Any]

TRAINING_LABEL = f"{GROUP}/model-training"
SPEC_HASH_ANNOTATION = f"{GROUP}/training-spec-hash"
WORK_MOUNT = "/var/run/eternal-engine/training"
CANDLES_MOUNT = "/var/run/eternal-engine/candles"
RESOURCES: Obj = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1536Mi"}}


@dataclass(frozen=True)
class TrainingRef:
    name: str
    namespace: str
    uid: str


@dataclass(frozen=True)
class Plan:
    """What one ModelTraining trains, resolved: the spec and the parameters in force."""

    spec: ModelTrainingSpec
    params: MetaTrendParams

    @property
    def spec_hash(self) -> str:
        """Changes whenever anything the training depends on does: a new hash, a new Job."""
        body = {
            "spec": self.spec.model_dump(mode="json", by_alias=True, exclude={"params_from"}),
            "params": self.params.model_dump(mode="json", by_alias=True),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]


def job_name(ref: TrainingRef, plan: Plan) -> str:
    return f"{ref.name}-{plan.spec_hash}"


def service_account_name(ref: TrainingRef) -> str:
    return f"{ref.name}-training"


def labels(ref: TrainingRef) -> dict[str, str]:
    return {
        **standard_labels("eternal-engine-training", "training", ref.name),
        TRAINING_LABEL: ref.name,
    }


def object_meta(name: str, ref: TrainingRef, **extra: Any) -> Obj:
    return owned_meta(name, ref.namespace, labels(ref), "ModelTraining", ref.name, ref.uid, **extra)


def output_config_map(ref: TrainingRef, plan: Plan) -> Obj:
    """Created empty: only the training pod fills it (its Role can update nothing else)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(plan.spec.output_config_map, ref),
    }


def service_account(ref: TrainingRef) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": object_meta(service_account_name(ref), ref),
    }


def role(ref: TrainingRef, plan: Plan) -> Obj:
    """Read and update the one output ConfigMap; nothing more."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": object_meta(service_account_name(ref), ref),
        "rules": [{
            "apiGroups": [""], "resources": ["configmaps"],
            "resourceNames": [plan.spec.output_config_map], "verbs": ["get", "update"],
        }],
    }  # fmt: skip


def role_binding(ref: TrainingRef) -> Obj:
    name = service_account_name(ref)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": object_meta(name, ref),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ref.namespace}],
    }


BARS_PER_DAY = {"1": 1440, "5": 288, "15": 96, "30": 48, "60": 24, "240": 6, "D": 1}


def bars(days: int, interval: str) -> int:
    """Candles in `days` of the interval (a week's candle: one per 7 days)."""
    return days // 7 if interval == "W" else days * BARS_PER_DAY[interval]


def params_json(plan: Plan) -> str:
    """`params.metaTrend` as the training reads it (from a file the Job's container writes)."""
    body = plan.params.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def train_args(plan: Plan, settings: OperatorSettings) -> list[str]:
    """The training CLI's arguments (`engine_runtime.train`), paths as `$(VAR)` references."""
    spec = plan.spec
    args = ["--params", "$(EE_TRAINING_DIR)/params.json", "--seed", str(spec.seed)]
    args += ["--out", "$(EE_TRAINING_DIR)/out"]
    history, files = spec.data.venue_history, spec.data.config_map
    if history is not None:
        rest = endpoints_for(history.venue, settings.simulator_url, settings.venue_ws_url())
        args += ["--venue-url", rest.rest_url, "--symbols", *history.symbols]
        args += ["--bars", str(bars(history.days, plan.params.interval.value))]
    elif files is not None:
        args += ["--candles", *(f"{f.symbol}=$(EE_CANDLES_DIR)/{f.key}" for f in files.files)]
        funding = [f"{f.symbol}=$(EE_CANDLES_DIR)/{f.funding_key}" for f in files.files
                   if f.funding_key is not None]  # fmt: skip
        if funding:
            args += ["--funding", *funding]
    return args


def job(ref: TrainingRef, plan: Plan, settings: OperatorSettings) -> Obj:
    spec = plan.spec
    env = [
        {"name": "EE_TRAINING_DIR", "value": WORK_MOUNT},
        {"name": "EE_MODEL_CONFIG_MAP", "value": spec.output_config_map},
        {"name": "EE_TRAINING_JOB", "value": job_name(ref, plan)},
        {"name": "EE_TRAINING_PARAMS", "value": params_json(plan)},
        {"name": "EE_POD_NAMESPACE",
         "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]  # fmt: skip
    mounts: list[Obj] = [
        {"name": "work", "mountPath": WORK_MOUNT},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, not the host's
    ]
    volumes: list[Obj] = [
        {"name": "work", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    if spec.data.config_map is not None:
        env.append({"name": "EE_CANDLES_DIR", "value": CANDLES_MOUNT})
        mounts.append({"name": "candles", "mountPath": CANDLES_MOUNT, "readOnly": True})
        volumes.append({"name": "candles", "configMap": {"name": spec.data.config_map.name}})
    container = {
        "name": "training",
        "image": spec.image or settings.runtime_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "engine_runtime.model_job", "--"],
        "args": train_args(plan, settings),
        "env": env,
        "resources": RESOURCES,
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }  # fmt: skip
    meta = object_meta(job_name(ref, plan), ref)
    meta["annotations"] = {SPEC_HASH_ANNOTATION: plan.spec_hash}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": spec.backoff_limit,
            "activeDeadlineSeconds": spec.active_deadline_seconds,
            "template": {
                "metadata": {"labels": labels(ref)},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": service_account_name(ref),
                    "automountServiceAccountToken": True,
                    "terminationGracePeriodSeconds": 10,
                    "securityContext": pod_security_context(),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }  # fmt: skip


def render_support(ref: TrainingRef, plan: Plan) -> list[Obj]:
    """The ServiceAccount, Role and RoleBinding, in the order they are applied."""
    return [service_account(ref), role(ref, plan), role_binding(ref)]
