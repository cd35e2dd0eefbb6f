"""What reading an Engine as the API serves it costs the Python that reads it.

    .venv/bin/python bench/api_parse.py [--reads 5000] [--runs 5]
    PYTHONPATH=<other tree> .venv/bin/python bench/api_parse.py ...   # its models

The operator parses an Engine (`Engine.model_validate`) on each event of it it handles (the
phase pass on every record and report of a halt, the record's own phase), and so does the
runtime on each event of its own Engine: a fleet halting together parses a few hundred in the
second that counts, on the same cores as the flatten. The Engine here is a governed one with a
runtime that reports a position, as the API server answers it (managed fields of its four
writers included: a client-side apply, kopf, its status writers). Prints, per run, the
microseconds per parse; the median and the best of `--runs`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from status_write_cost import status_of

import eternal_kernel
from eternal_kernel.api.v1alpha1 import API_VERSION
from eternal_kernel.api.v1alpha1.engine import Engine

AT = "2026-12-04T12:28:40Z"


def managed(manager: str, subresource: str | None, fields: dict[str, Any]) -> dict[str, Any]:
    entry = {"manager": manager, "operation": "Update", "apiVersion": API_VERSION, "time": AT,
             "fieldsType": "FieldsV1", "fieldsV1": fields}  # fmt: skip
    return {**entry, "subresource": subresource} if subresource else entry


def engine_body() -> dict[str, Any]:
    """A governed, running Engine as `GET` returns it."""
    status = status_of(7)
    conditions = {f'k:{{"type":"{c["type"]}"}}': {".": {}, "f:lastTransitionTime": {},
                  "f:message": {}, "f:observedGeneration": {}, "f:reason": {}, "f:status": {},
                  "f:type": {}} for c in status["conditions"]}  # fmt: skip
    writers = [
        managed("kubectl-client-side-apply", None,
                {"f:metadata": {"f:labels": {".": {}, "f:fleet": {}}},
                 "f:spec": {".": {}, "f:strategy": {}, "f:subaccount": {}, "f:symbols": {}}}),
        managed("kopf", None, {"f:metadata": {"f:finalizers": {}, "f:annotations": {}}}),
        managed("kopf", "status", {"f:status": {"f:phase": {}, "f:conditions": conditions,
                                                "f:observedGeneration": {}}}),
        managed("python-httpx2", "status", {"f:status": {"f:governance": {}, "f:runtime": {}}}),
    ]  # fmt: skip
    metadata = {
        "name": "bench-007",
        "namespace": "default",
        "uid": "5b0f0c1e-6d3a-4a7e-9d59-0b3f2d1c9e11",
        "resourceVersion": "48213",
        "generation": 1,
        "creationTimestamp": AT,
        "labels": {"fleet": "bench", "eternal-engine.io/policy": "bench"},
        "annotations": {"kopf.zalando.org/last-handled-configuration": '{"spec":{}}'},
        "finalizers": ["trading.eternal-engine.io/venue-orders"],
        "managedFields": writers,
    }
    spec = {"strategy": "core-hodl", "symbols": ["BTCUSDT", "ETHUSDT"], "subaccount": "bench007",
            "venue": "simulator"}  # fmt: skip
    return {"apiVersion": API_VERSION, "kind": "Engine", "metadata": metadata, "spec": spec,
            "status": status}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=5000, help="parses per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    body = engine_body()
    Engine.model_validate(body)  # refused here means the body is not a valid Engine
    tree = Path(eternal_kernel.__file__).resolve().parents[1]
    print(f"models of {tree}; Python {sys.version.split()[0]}", flush=True)
    figures = []
    for run in range(args.runs):
        began = time.perf_counter()
        for _ in range(args.reads):
            Engine.model_validate(body)
        figures.append((time.perf_counter() - began) / args.reads * 1e6)
        print(f"run {run + 1}: {figures[-1]:6.1f} us per Engine.model_validate", flush=True)
    print(f"median {statistics.median(figures):6.1f} us, best {min(figures):6.1f} us "
          f"({args.reads} parses per run)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
