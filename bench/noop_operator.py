"""Baseline for bench/operator_bench.py: a kopf operator whose Engine handler does nothing.

Same kopf settings as ours (annotation storage), so the difference is what our reconcile adds.
"""

from __future__ import annotations

import os
from typing import Any

import kopf
from prometheus_client import Counter, start_http_server

HANDLED = Counter("noop_handled_total", "Engines the no-op handler saw.")


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="bench.noop")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="bench.noop")
    start_http_server(int(os.environ["NOOP_METRICS_PORT"]), addr="127.0.0.1")


@kopf.on.create("trading.eternal-engine.io", "v1alpha1", "engines")
async def created(**_: Any) -> None:
    HANDLED.inc()
