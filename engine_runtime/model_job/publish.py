"""Publish a trained artifact into the output ConfigMap, or the reason there is none.

The ConfigMap gets exactly the artifact's published files (`PUBLISHED_FILES`) as its data, and
annotations saying which Job wrote it, the model's sha256 and the training's metrics; a failed
training leaves the data as it was (Engines keep the model they run) and writes the reason. The
files must fit in a ConfigMap (1 MiB): a bigger artifact is refused with a message that says so.
The pod's ServiceAccount may get and update this one ConfigMap and nothing else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from engine_runtime.governance.kubeconfig import load_access
from eternal_kernel.api.v1alpha1.training import (
    ERROR_ANNOTATION,
    JOB_ANNOTATION,
    METRICS_ANNOTATION,
    MODEL_SHA_ANNOTATION,
)

CONFIG_MAP_LIMIT = 1024 * 1024
"""What the API server stores in one ConfigMap, data and metadata together."""
MAX_METRICS = 32


class PublishError(Exception):
    """The artifact cannot be published; the message says why, for the ModelTraining's status."""


def collect(out: Path) -> dict[str, str]:
    """The published files of the artifact in `out`, checked to fit in a ConfigMap."""
    from engine_runtime.train.artifact import MAX_PUBLISHED_BYTES, PUBLISHED_FILES

    missing = [name for name in PUBLISHED_FILES if not (out / name).is_file()]
    if missing:
        raise PublishError(f"the training wrote no {', '.join(missing)} into {out}")
    files = {name: (out / name).read_text() for name in PUBLISHED_FILES}
    size = sum(len(text.encode()) for text in files.values())
    limit = min(MAX_PUBLISHED_BYTES, CONFIG_MAP_LIMIT)
    if size > limit:
        raise PublishError(
            f"the artifact's {' and '.join(PUBLISHED_FILES)} take {size} bytes; a ConfigMap "
            f"holds at most 1 MiB, and at most {limit} bytes of it may be the model: train a "
            "smaller model (fewer or shallower trees)"
        )
    return files


def metrics_of(line: str) -> dict[str, str]:
    """The metrics object the training printed last, as status strings: its numbers (numeric
    strings too), those of nested objects under joined names (`filtered.trades` ->
    `filteredTrades`); at most MAX_METRICS."""
    try:
        found = json.loads(line)
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for key, value in _flat(found if isinstance(found, dict) else {}):
        text = _number(value)
        if text is not None and len(out) < MAX_METRICS:
            out[key[:63]] = text
    return out


def _flat(found: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in found.items():
        name = f"{prefix}{str(key)[:1].upper()}{str(key)[1:]}" if prefix else str(key)
        if isinstance(value, dict) and not prefix:
            out.extend(_flat(value, name))
        else:
            out.append((name, value))
    return out


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return f"{number:.4f}" if math.isfinite(number) else None


def model_sha256(files: Mapping[str, str]) -> str:
    from engine_runtime.train.artifact import MANIFEST

    return str(json.loads(files[MANIFEST]).get("modelSha256", ""))


async def write(
    namespace: str,
    name: str,
    job: str,
    *,
    files: Mapping[str, str] | None = None,
    metrics: Mapping[str, str] | None = None,
    error: str | None = None,
) -> None:
    """Read the ConfigMap and update it (get, update: what the Role allows) with the files and
    metrics, or with the error."""
    access = load_access()
    path = f"{access.server.rstrip('/')}/api/v1/namespaces/{namespace}/configmaps/{name}"
    async with aiohttp.ClientSession(headers=access.headers) as session:
        async with session.get(path, ssl=access.ssl_context) as answer:
            if answer.status >= 400:
                raise PublishError(f"cannot read ConfigMap {namespace}/{name}: {answer.status} "
                                   f"{(await answer.text())[:200]}")  # fmt: skip
            config_map: dict[str, Any] = await answer.json()
        meta = config_map["metadata"]
        annotations = dict(meta.get("annotations") or {})
        annotations[JOB_ANNOTATION] = job
        if error is not None:
            annotations[ERROR_ANNOTATION] = error[:4000]
        else:
            annotations.pop(ERROR_ANNOTATION, None)
            config_map["data"] = dict(files or {})
            annotations[MODEL_SHA_ANNOTATION] = model_sha256(files or {})
            annotations[METRICS_ANNOTATION] = json.dumps(dict(metrics or {}), sort_keys=True)
        meta["annotations"] = annotations
        async with session.put(path, json=config_map, ssl=access.ssl_context) as answer:
            if answer.status >= 400:
                text = (await answer.text())[:300]
                raise PublishError(f"cannot update ConfigMap {namespace}/{name}: "
                                   f"{answer.status} {text}")  # fmt: skip
