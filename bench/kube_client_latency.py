"""How fast the operator's Kubernetes client answers, against a real API server; prints the figures.

    .venv/bin/python bench/kube_client_latency.py [REF ...] [--rounds N]

One local control plane (etcd + kube-apiserver, as the cluster tests start it); for each REF
(main by default; e.g. a commit of an earlier client) and for this tree, a fresh interpreter
with aiohttp already imported (kopf has it in the operator) builds `KubeClient.from_environment()`
from that tree and times: its first request (the HTTP client built, the first connection, any
import it makes inside the event loop), the median of 200 sequential GETs, and 30 concurrent
GETs on a cold pool and again on a warm one. Each figure is the median over the rounds. The
machine is shared; treat the figures as rough, and compare within one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from eternal_operator.devtools.controlplane import ControlPlane, find_binaries

CODE = r"""
import asyncio, json, statistics, time
import aiohttp  # noqa: F401  (kopf has it loaded in the operator)
from eternal_operator.kube import KubeClient

PATH = "/api/v1/namespaces/default"

async def main():
    kube = KubeClient.from_environment()
    t = time.perf_counter()
    await kube.request("GET", PATH)
    first = time.perf_counter() - t
    sequential = []
    for _ in range(200):
        t = time.perf_counter()
        await kube.request("GET", PATH)
        sequential.append(time.perf_counter() - t)
    await kube.close()
    t = time.perf_counter()
    await asyncio.gather(*(kube.request("GET", PATH) for _ in range(30)))
    cold = time.perf_counter() - t
    t = time.perf_counter()
    await asyncio.gather(*(kube.request("GET", PATH) for _ in range(30)))
    warm = time.perf_counter() - t
    await kube.close()
    print(json.dumps({"first": first, "sequential": statistics.median(sequential),
                      "cold30": cold, "warm30": warm}))

asyncio.run(main())
"""


def run(tree: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        env={**env, "PYTHONPATH": f"{tree}/operator:{tree}"},
        cwd="/",  # the tree named, not the current directory, ahead on sys.path
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("refs", nargs="*", default=["main"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as scratch:
        trees = {}
        for ref in args.refs:
            tree = Path(scratch) / ref.replace("/", "_")
            tree.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(repo), "archive", ref], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            trees[ref] = tree
        trees["this tree"] = repo
        plane = ControlPlane(data_dir=Path(scratch) / "plane", bin_dir=find_binaries())
        results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        with plane:
            env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
            for _ in range(args.rounds):  # interleaved: the machine's load falls on each alike
                for name, tree in trees.items():
                    results[name].append(run(tree, env))
    print(f"{'client':<14}{'first':>10}{'sequential':>12}{'30 cold':>10}{'30 warm':>10}  (ms)")
    for name, runs in results.items():
        figures = [
            statistics.median(r[key] for r in runs) * 1000
            for key in ("first", "sequential", "cold30", "warm30")
        ]
        print(f"{name:<14}" + "".join(f"{f:>10.1f}" for f in figures[:1])
              + f"{figures[1]:>12.2f}" + "".join(f"{f:>10.1f}" for f in figures[2:]))  # fmt: skip


if __name__ == "__main__":
    main()
