"""Namespaces created while the operator starts: how many it never serves.

    .venv/bin/python bench/namespace_bench.py [--rounds 2] [--seconds 3]

Against a real kube-apiserver. Each round starts an operator watching `<prefix>-*` while four
concurrent workers (the operator's own KubeClient) keep creating namespaces, each with a
CircuitBreakerPolicy, from half a second before the start until `--seconds` after it leads. Ten
seconds later, a namespace counts as served if the operator handled its policy (its log names the
namespace). Each round runs our operator, then, as the baseline, the same operator without
`eternal_operator/namespaces.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.devtools.processes import free_port, spawn, stop
from eternal_operator.kube import KubeClient

WITHOUT_FIX = (
    "import eternal_operator.namespaces as n; n.serve_namespaces_listed_at_watch_start = "
    "lambda: None; from eternal_operator.__main__ import main; raise SystemExit(main())"
)


def policy(namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "CircuitBreakerPolicy",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"bench": "none"}}},
    }  # fmt: skip


async def one_round(
    plane: ControlPlane, work: Path, fixed: bool, seconds: float
) -> tuple[int, int]:
    """(namespaces created, namespaces never served)."""
    api = KubeClient.from_environment()  # $KUBECONFIG: the control plane's
    prefix = f"race{secrets.token_hex(3)}"
    created: list[str] = []
    done = asyncio.Event()

    async def create(worker: int) -> None:
        for n in range(10_000):
            if done.is_set():
                return
            name = f"{prefix}-{worker}-{n}"
            await api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
            await api.create(policy(name))
            created.append(name)

    workers = [asyncio.create_task(create(w)) for w in range(4)]
    await asyncio.sleep(0.5)
    log = work / f"{prefix}.log"
    command = ["-m", "eternal_operator"] if fixed else ["-c", WITHOUT_FIX]
    operator = spawn(
        [sys.executable, *command], log,
        env={**os.environ, "KUBECONFIG": str(plane.kubeconfig),
             "EE_OPERATOR_NAMESPACES": f"{prefix}-*", "EE_OPERATOR_LEASE_NAME": prefix,
             "EE_OPERATOR_POD_NAME": prefix,
             "EE_OPERATOR_POD_NAMESPACE": "default", "EE_OPERATOR_LOG_FORMAT": "json",
             "EE_OPERATOR_METRICS_PORT": str(free_port()), "EE_OPERATOR_HEALTH_PORT": "0"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # the operator is a subprocess: its log is polled
        while "leads via Lease" not in log.read_text() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(seconds)
        done.set()
        await asyncio.gather(*workers)
        await asyncio.sleep(10)
        text = log.read_text()
        missed = [name for name in created if f'"namespace": "{name}"' not in text]
    finally:
        stop(operator)
        for name in created:
            await api.delete("v1", "Namespace", None, name)
        await api.close()
    return len(created), len(missed)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ns-bench-"))
    totals = {True: [0, 0], False: [0, 0]}
    with ControlPlane(data_dir=work / "cp") as plane:
        plane.install_crds()
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)
        for _ in range(args.rounds):
            for fixed in (True, False):
                created, missed = asyncio.run(one_round(plane, work, fixed, args.seconds))
                totals[fixed][0] += created
                totals[fixed][1] += missed
    for fixed, label in ((False, "baseline (kopf alone)"), (True, "ours")):
        created, missed = totals[fixed]
        print(f"  {label:22} {missed:4d} of {created:5d} namespaces never served "
              f"({args.rounds} rounds)", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
