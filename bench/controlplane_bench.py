"""Control-plane start-up figures for tests and the local stack.

    .venv/bin/python bench/controlplane_bench.py [--runs 5] [--cold]

Warm: start etcd + kube-apiserver (+ controller manager) from the cached build until /readyz,
then install the CRDs until Established; repeated, with median and worst. --cold also times a
build from empty Go module and build caches (what a fresh machine pays once; several minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eternal_operator.devtools.controlplane import BUILD_SCRIPT, ControlPlane, find_binaries


def cold_build() -> float:
    scratch = Path(tempfile.mkdtemp(prefix="cold-build-"))
    env = {
        **os.environ,
        "GOMODCACHE": str(scratch / "mod"),
        "GOCACHE": str(scratch / "build"),
        "EE_CACHE_DIR": str(scratch / "out"),
    }
    env.pop("KUBEBUILDER_ASSETS", None)
    started = time.monotonic()
    subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    subprocess.run(["chmod", "-R", "u+w", str(scratch)], check=False)
    subprocess.run(["rm", "-rf", str(scratch)], check=False)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    if args.cold:
        print(f"cold build (empty Go caches, modules downloaded): {cold_build():7.1f} s")
    bin_dir = find_binaries()
    ready, crds = [], []
    for _ in range(args.runs):
        started = time.monotonic()
        with ControlPlane(data_dir=Path(tempfile.mkdtemp(prefix="cp-")), bin_dir=bin_dir) as cp:
            ready.append(time.monotonic() - started)
            started = time.monotonic()
            cp.install_crds()
            crds.append(time.monotonic() - started)
    print(f"warm start to /readyz over {args.runs} runs: median {statistics.median(ready):.2f} s, "
          f"worst {max(ready):.2f} s")  # fmt: skip
    print(f"CRDs installed and Established:       median {statistics.median(crds):.2f} s, "
          f"worst {max(crds):.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
