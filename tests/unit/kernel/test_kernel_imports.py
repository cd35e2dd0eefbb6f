"""The kernel stays light and stands alone: every runtime imports it, and so does the operator.

A fresh interpreter imports every module of `eternal_kernel` (found by walking the package, so a
new module is covered the day it is added) and prints what it holds. Neither the operator nor the
runtime may be among them (import-linter's layers contract says the same of the source; this
checks what really loads), nor a heavy library that only some runtimes or the operator need: an
import at the top of a kernel module would put it into every pod.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

SCRIPT = """
import importlib, json, pkgutil, sys
import eternal_kernel
names = [m.name for m in pkgutil.walk_packages(eternal_kernel.__path__, "eternal_kernel.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"walked": names, "loaded": sorted(sys.modules)}))
"""

NEVER = (
    "eternal_operator",
    "engine_runtime",
    "kopf",
    "kubernetes",
    "numpy",
    "pandas",
    "pyarrow",
    "matplotlib",
    "xgboost",
    "scipy",
    "redis",
)
"""The two packages standing on the kernel, and libraries only some of its users load."""

PARTS = (
    "api.crdgen",
    "api.runtime_config",
    "breaker.evaluate",
    "breaker.codec",
    "model.identifiers",
    "bybit.domain",
    "bybit.flatten",
    "persistence.migrate",
)
"""A module of each part of the kernel: the walk must reach them all."""


@pytest.fixture(scope="module")
def imported() -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    result: dict[str, list[str]] = json.loads(out)
    return result


def test_every_part_of_the_kernel_is_walked(imported: dict[str, list[str]]) -> None:
    walked = set(imported["walked"])
    for part in PARTS:
        assert f"eternal_kernel.{part}" in walked


def test_importing_the_whole_kernel_loads_neither_side_nor_a_heavy_library(
    imported: dict[str, list[str]],
) -> None:
    loaded = imported["loaded"]
    held = sorted({n for n in NEVER for m in loaded if m == n or m.startswith(n + ".")})
    assert held == []
