"""Pure functions from a Backtest to the objects it runs on: its Indexed Job (one completion
index per shard of the grid) and, once it succeeded, the report ConfigMap (every combination,
ranked, as CSV).

Each index's pod runs `python -m engine_runtime.backtest.shard` with the spec as JSON in its
environment and the candles' directory (a ConfigMap's or a PersistentVolumeClaim's volume,
mounted read-only) in `EE_CANDLES_DIR`; Kubernetes (and the local pod runner) sets
`JOB_COMPLETION_INDEX`. The pods write to PostgreSQL (`EE_DATABASE_URL` from the runtime env
Secret, as Engine runtimes get it) and talk to no API server: no ServiceAccount token is mounted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eternal_kernel.api.runtime_config import endpoints_for
from eternal_kernel.api.v1alpha1 import GROUP
from eternal_kernel.api.v1alpha1.backtest import BacktestSpec
from eternal_operator.controllers.jobs import container_security_context, pod_security_context
from eternal_operator.controllers.owned import owned_meta, standard_labels
from eternal_operator.settings import OperatorSettings

Obj = dict[str, Any]

BACKTEST_LABEL = f"{GROUP}/backtest"
CANDLES_MOUNT = "/var/run/eternal-engine/candles"
RESOURCES: Obj = {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"memory": "1536Mi"}}
REPORT_KEY = "ranked.csv"


@dataclass(frozen=True)
class BacktestRef:
    name: str
    namespace: str
    uid: str


def job_name(ref: BacktestRef) -> str:
    return ref.name


def report_name(ref: BacktestRef) -> str:
    return f"{ref.name}-report"


def labels(ref: BacktestRef) -> dict[str, str]:
    return {**standard_labels("eternal-engine-backtest", "backtest", ref.name),
            BACKTEST_LABEL: ref.name}  # fmt: skip


def object_meta(name: str, ref: BacktestRef) -> Obj:
    return owned_meta(name, ref.namespace, labels(ref), "Backtest", ref.name, ref.uid)


def spec_json(spec: BacktestSpec) -> str:
    return json.dumps(spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                      sort_keys=True, separators=(",", ":"))  # fmt: skip


def job(ref: BacktestRef, spec: BacktestSpec, settings: OperatorSettings) -> Obj:
    env: list[Obj] = [
        {"name": "EE_BACKTEST_SPEC", "value": spec_json(spec)},
        {"name": "EE_BACKTEST_UID", "value": ref.uid},
        {"name": "EE_BACKTEST_NAME", "value": ref.name},
        {"name": "MPLCONFIGDIR", "value": "/tmp/matplotlib"},  # noqa: S108 - an emptyDir
        {"name": "EE_POD_NAMESPACE",
         "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]  # fmt: skip
    mounts: list[Obj] = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - an emptyDir
    volumes: list[Obj] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    data = spec.data
    if data.config_map is not None:
        env.append({"name": "EE_CANDLES_DIR", "value": CANDLES_MOUNT})
        mounts.append({"name": "candles", "mountPath": CANDLES_MOUNT, "readOnly": True})
        volumes.append({"name": "candles", "configMap": {"name": data.config_map.name}})
    elif data.volume is not None:
        where = f"{CANDLES_MOUNT}/{data.volume.path}" if data.volume.path else CANDLES_MOUNT
        env.append({"name": "EE_CANDLES_DIR", "value": where})
        mounts.append({"name": "candles", "mountPath": CANDLES_MOUNT, "readOnly": True})
        volumes.append({"name": "candles", "persistentVolumeClaim": {
            "claimName": data.volume.claim_name, "readOnly": True}})  # fmt: skip
    elif data.venue_history is not None:
        rest = endpoints_for(data.venue_history.venue, settings.simulator_url,
                             settings.venue_ws_url())  # fmt: skip
        env.append({"name": "EE_BACKTEST_VENUE_URL", "value": rest.rest_url})
    container: Obj = {
        "name": "shard",
        "image": spec.image or settings.runtime_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["python", "-m", "engine_runtime.backtest.shard"],
        "env": env,
        "resources": RESOURCES,
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }  # fmt: skip
    if settings.runtime_env_secret:
        container["envFrom"] = [
            {"secretRef": {"name": settings.runtime_env_secret, "optional": True}}
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(job_name(ref), ref),
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.shards,
            "parallelism": spec.parallelism,
            "backoffLimit": spec.backoff_limit,
            "activeDeadlineSeconds": spec.active_deadline_seconds,
            "template": {
                "metadata": {"labels": labels(ref)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 10,
                    "securityContext": pod_security_context(),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }  # fmt: skip


def report_config_map(ref: BacktestRef, csv: str, plots: Mapping[str, bytes]) -> Obj:
    """The ranked table, and the plots (PNG) as binaryData."""
    body: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(report_name(ref), ref),
        "data": {REPORT_KEY: csv},
    }
    if plots:
        body["binaryData"] = {k: base64.b64encode(v).decode() for k, v in sorted(plots.items())}
    return body
