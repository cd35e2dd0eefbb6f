"""Reconcile N Engines applied at once, against a real kube-apiserver; prints the figures.

    .venv/bin/python bench/operator_bench.py [--engines 200]

Measures, in the same run: a no-op kopf handler on N Engines (the baseline: what kopf and the
API server cost by themselves), then our operator on N Engines: time until every Deployment
exists, reconcile time per Engine (p50/p99 from the operator's histogram), API calls per
reconcile (while creating, and in the steady state), and the resident memory of each process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from eternal_operator.devtools.controlplane import ControlPlane  # noqa: E402
from eternal_operator.devtools.processes import free_port, spawn, stop  # noqa: E402


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def total(m: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in m.items() if k.startswith(prefix))


def quantile(m: dict[str, float], q: float) -> float:
    """A quantile from the reconcile-duration histogram's cumulative buckets."""
    buckets = sorted(
        (float(k.split('le="')[1].split('"')[0]), v)
        for k, v in m.items()
        if k.startswith("eternal_operator_reconcile_duration_seconds_bucket") and "+Inf" not in k
    )
    count = total(m, "eternal_operator_reconcile_duration_seconds_count")
    for bound, cumulative in buckets:
        if cumulative >= q * count:
            return bound
    return float("inf")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def engines_yaml(n: int) -> str:
    items = []
    for i in range(n):
        items.append({
            "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
            "metadata": {"name": f"bench-{i:04d}"},
            "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": f"{100000 + i}",
                     "credentials": {"secretName": "bench-keys"}},
        })  # fmt: skip
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def wait(probe: object, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if probe():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.1)
    raise TimeoutError


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", type=int, default=200)
    parser.add_argument("--resync", type=float, default=10.0)
    args = parser.parse_args()
    n = args.engines
    work = Path(tempfile.mkdtemp(prefix="operator-bench-"))
    with ControlPlane(data_dir=work / "cp") as plane:
        plane.install_crds()
        env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
        for ns in ("bench-noop", "bench-ours"):
            plane.kubectl("create", "namespace", ns)
            plane.kubectl(
                "create", "secret", "generic", "bench-keys", "-n", ns,
                "--from-literal=apiKey=BENCHKEY0001", "--from-literal=apiSecret=BENCHSECRET0001",
            )  # fmt: skip

        # Baseline: kopf with a handler that does nothing.
        noop_port = free_port()
        noop = spawn(
            [sys.executable, "-m", "kopf", "run", "--standalone", "-n", "bench-noop",
             str(REPO / "bench" / "noop_operator.py")],
            work / "noop.log", env={**env, "NOOP_METRICS_PORT": str(noop_port)},
        )  # fmt: skip
        wait(lambda: _try(lambda: metrics(noop_port)), 30)
        started = time.monotonic()
        plane.kubectl("apply", "-n", "bench-noop", "-f", "-", input=engines_yaml(n), timeout=300)
        wait(lambda: _try(lambda: metrics(noop_port).get("noop_handled_total", 0) >= n), 600)
        noop_seconds = time.monotonic() - started
        noop_rss = rss_mib(noop.pid)
        stop(noop)

        # Ours.
        port = free_port()
        ours = spawn(
            [sys.executable, "-m", "eternal_operator"], work / "operator.log",
            env={**env, "EE_OPERATOR_NAMESPACES": "bench-ours",
                 "EE_OPERATOR_METRICS_PORT": str(port), "EE_OPERATOR_HEALTH_PORT": "0",
                 "EE_OPERATOR_LEADER_ELECTION": "false", "EE_OPERATOR_LOG_LEVEL": "WARNING",
                 "EE_OPERATOR_RESYNC_SECONDS": str(args.resync)},
        )  # fmt: skip
        wait(lambda: _try(lambda: metrics(port)), 30)
        started = time.monotonic()
        plane.kubectl("apply", "-n", "bench-ours", "-f", "-", input=engines_yaml(n), timeout=300)

        def deployments() -> int:
            out = plane.kubectl("get", "deployments", "-n", "bench-ours", "-o", "name").stdout
            return len(out.split())

        wait(lambda: deployments() >= n, 900)
        ours_seconds = time.monotonic() - started
        created = metrics(port)
        create_calls = total(created, "eternal_operator_api_calls_total")
        create_passes = total(created, "eternal_operator_reconciles_total")
        # Steady state: two more resync rounds in which nothing changes.
        wait(lambda: total(metrics(port), "eternal_operator_reconciles_total")
             >= create_passes + 2 * n, 4 * args.resync + 600)  # fmt: skip
        steady = metrics(port)
        steady_calls = total(steady, "eternal_operator_api_calls_total") - create_calls
        steady_passes = total(steady, "eternal_operator_reconciles_total") - create_passes
        writes = total(steady, "eternal_operator_object_writes_total") - total(
            created, "eternal_operator_object_writes_total"
        )
        mean = total(steady, "eternal_operator_reconcile_duration_seconds_sum") / total(
            steady, "eternal_operator_reconcile_duration_seconds_count"
        )
        ours_rss = rss_mib(ours.pid)
        stop(ours)

    print(f"engines applied at once:                 {n}")
    print(
        f"no-op kopf handler, all handled:         {noop_seconds:8.2f} s   RSS {noop_rss:6.1f} MiB"
    )
    print(
        f"our operator, all Deployments exist:     {ours_seconds:8.2f} s   RSS {ours_rss:6.1f} MiB"
    )
    print(f"ratio (ours / no-op):                    {ours_seconds / noop_seconds:8.2f}")
    print(
        f"reconcile time per engine: mean {mean * 1000:.1f} ms, "
        f"p50 <= {quantile(steady, 0.5) * 1000:.0f} ms, "
        f"p99 <= {quantile(steady, 0.99) * 1000:.0f} ms"
    )
    print(f"API calls per reconcile while creating:  {create_calls / create_passes:8.2f}")
    print(
        f"API calls per reconcile, steady state:   {steady_calls / steady_passes:8.2f}"
        f"   (objects written in steady state: {writes:.0f})"
    )
    return 0


def _try(probe: object) -> object:
    try:
        return probe()  # type: ignore[operator]
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
