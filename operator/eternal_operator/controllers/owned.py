"""The metadata of an object the operator creates for one of its resources: the standard labels
and a controller owner reference, so deleting the resource deletes what it owns."""

from __future__ import annotations

from typing import Any

from eternal_kernel.api.v1alpha1 import API_VERSION

Obj = dict[str, Any]
MANAGED_BY = "eternal-engine-operator"


def standard_labels(app: str, component: str, instance: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "eternal-engine",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def owned_meta(
    name: str, namespace: str, labels: dict[str, str], kind: str, owner: str, uid: str, **extra: Any
) -> Obj:
    return {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": API_VERSION,
                "kind": kind,
                "name": owner,
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        **extra,
    }
