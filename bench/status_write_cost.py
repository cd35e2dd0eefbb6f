"""What an Engine status write costs the API server, with and without managed fields.

    .venv/bin/python bench/status_write_cost.py [--engines 50] [--writes 600] [--rounds 2]

A control plane of its own (the project's CRDs and admission policies, as the local stack has
them) and two fleets of N Engines created as a user does (`kubectl apply`, client-side), each
with the status a running, governed Engine carries (conditions, allocation, governance record,
runtime report with a position). The operator's `managed_fields.drop_if_unused` runs on the
second fleet only. Then, in alternating rounds on the same server: `--writes` status merge
patches (a runtime report's heartbeat and equity, 32 in flight, spread over the fleet) to each
fleet; and a halt's burst (two writes per Engine at once, a record and a report) to each fleet.
Prints, per fleet, the API server's CPU per write (from /proc), writes per second, latency
p50/p99, and the burst's time until its last write was answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cpu_roles import Cpu, cpu_now, cpu_since

from eternal_kernel.api.v1alpha1 import API_VERSION
from eternal_operator.controllers.engine import managed_fields
from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.kube import KubeClient

IN_FLIGHT = 32
NAMESPACE = "default"


def api_server_cpu(before: Cpu) -> float:
    """The API server's CPU seconds since `before` (`cpu_roles.cpu_now()`)."""
    return cpu_since(before).get("API server", 0.0)


ALLOCATION = {"allocation": "bench", "currentWeight": "0.02", "targetCapital": "199.7",
              "targetWeight": "0.02"}  # fmt: skip
GOVERNANCE = {"policy": "bench", "sequence": 9, "level": 0, "halt": False, "reason": "no breach",
              "conflicts": [], "closeDirectional": False, "entriesPaused": False,
              "runtimeStopped": False, "sizeMultiplier": 1, "stopMultiplier": 1}  # fmt: skip


def status_of(i: int) -> dict[str, Any]:
    """The status a running, governed Engine carries (shaped as the operator and runtime write
    it)."""
    at = "2026-12-04T12:28:40Z"
    condition = {"lastTransitionTime": at, "observedGeneration": 1, "message": "ok"}
    return {
        "phase": "Running",
        "observedGeneration": 1,
        "credentialsSecret": f"bench-{i:03d}-venue-credentials",
        "conditions": [
            {**condition, "type": t, "status": s, "reason": r}
            for t, s, r in [
                ("Ready", "True", "RuntimeReporting"),
                ("CredentialsValid", "True", "SecretFound"),
                ("VenueConnected", "True", "VenueConnected"),
                ("Halted", "False", "NoHalt"),
                ("EntriesPaused", "False", "TakingEntries"),
            ]
        ],
        "allocation": ALLOCATION,
        "governance": {**GOVERNANCE, "issuedAt": at},
        "runtime": report(0),
    }


def report(k: int) -> dict[str, Any]:
    return {
        "heartbeat": f"2026-12-04T13:{k // 60 % 60:02d}:{k % 60:02d}Z",
        "equity": f"199.{k % 1000:03d}", "cash": "199.70500762", "dayPnl": "-0.27179966",
        "drawdown": "0.00152009", "flat": False, "openOrders": 1, "appliedDirective": 9,
        "venueConnected": True, "residue": [],
        "positions": [{"category": "spot", "symbol": "ETHUSDT", "side": "Buy",
                       "size": "0.00000778", "entryPrice": "2993.33",
                       "unrealizedPnl": "-0.00009538"}],
    }  # fmt: skip


class Bench:
    def __init__(self, plane: ControlPlane, kube: KubeClient, n: int) -> None:
        self.plane = plane
        self.kube = kube
        self.n = n

    def names(self, fleet: str) -> list[str]:
        return [f"{fleet}-{i:03d}" for i in range(self.n)]

    async def create(self, fleet: str) -> None:
        items = [{"apiVersion": API_VERSION, "kind": "Engine",
                  "metadata": {"name": name, "labels": {"fleet": fleet}},
                  "spec": {"strategy": "core-hodl", "symbols": ["BTCUSDT"],
                           "subaccount": f"{fleet}{i:03d}"}}
                 for i, name in enumerate(self.names(fleet))]  # fmt: skip
        listed = {"apiVersion": "v1", "kind": "List", "items": items}
        self.plane.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(listed))
        for i, name in enumerate(self.names(fleet)):
            await self.write(name, status_of(i))

    async def write(self, name: str, status: dict[str, Any]) -> None:
        await self.kube.merge_patch(API_VERSION, "Engine", NAMESPACE, name, {"status": status},
                                    subresource="status")  # fmt: skip

    async def drop(self, fleet: str) -> int:
        dropped = 0
        for name in self.names(fleet):
            body = await self.kube.get(API_VERSION, "Engine", NAMESPACE, name)
            dropped += await managed_fields.drop_if_unused(self.kube, body)
        return dropped

    async def managers(self, fleet: str) -> int:
        body = await self.kube.get(API_VERSION, "Engine", NAMESPACE, self.names(fleet)[0])
        return len(body["metadata"].get("managedFields") or [])

    async def writes(self, fleet: str, count: int, first: int) -> dict[str, float]:
        """`count` report writes over the fleet, IN_FLIGHT at once."""
        names = self.names(fleet)
        slots = asyncio.Semaphore(IN_FLIGHT)
        latencies: list[float] = []

        async def one(k: int) -> None:
            async with slots:
                began = time.perf_counter()
                await self.write(names[k % len(names)], {"runtime": report(first + k)})
                latencies.append(time.perf_counter() - began)

        cpu, began = cpu_now(), time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(count)))
        wall, used = time.perf_counter() - began, api_server_cpu(cpu)
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        return {"cpu_ms": used / count * 1000, "per_s": count / wall,
                "p50_ms": latencies[len(latencies) // 2] * 1000, "p99_ms": p99 * 1000}  # fmt: skip

    async def burst(self, fleet: str, first: int) -> dict[str, float]:
        """A halt's status writes: a governance record and a report per Engine, all at once."""
        names = self.names(fleet)
        record = {"governance": {"halt": True, "level": 4, "reason": "emergency halt",
                                 "sequence": 10 + first}, "phase": "Halting"}  # fmt: skip
        cpu, began = cpu_now(), time.perf_counter()
        await asyncio.gather(
            *(self.write(name, record) for name in names),
            *(self.write(name, {"runtime": {**report(first), "flat": True, "openOrders": 0}})
              for name in names),
        )  # fmt: skip
        wall, used = time.perf_counter() - began, api_server_cpu(cpu)
        return {"cpu_ms": used / (2 * len(names)) * 1000, "last_s": wall}


async def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="status-write-cost-"))
    with ControlPlane(data_dir=root / "controlplane") as plane:
        plane.install_crds()
        plane.install_admission()
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)
        kube = KubeClient.from_environment()
        try:
            bench = Bench(plane, kube, args.engines)
            for fleet in ("tracked", "dropped"):
                await bench.create(fleet)
            dropped = await bench.drop("dropped")
            print(f"{args.engines} Engines per fleet; managed fields dropped on {dropped}; "
                  f"managers on an Engine: tracked {await bench.managers('tracked')}, "
                  f"dropped {await bench.managers('dropped')}", flush=True)  # fmt: skip
            seen: dict[str, dict[str, list[float]]] = {"tracked": {}, "dropped": {}}
            k = 0
            for _ in range(args.rounds):
                for fleet in ("tracked", "dropped"):
                    figures = {**await bench.writes(fleet, args.writes, k),
                               **{f"burst_{key}": v
                                  for key, v in (await bench.burst(fleet, k)).items()}}  # fmt: skip
                    k += args.writes
                    for key, value in figures.items():
                        seen[fleet].setdefault(key, []).append(value)
            print(f"{'':44}{'tracked':>12}{'dropped':>12}   (median of {args.rounds} rounds)")
            rows = [("API-server CPU per status write (ms)", "cpu_ms", 2),
                    ("status writes per second, 32 in flight", "per_s", 0),
                    ("latency p50 (ms)", "p50_ms", 0), ("latency p99 (ms)", "p99_ms", 0),
                    (f"halt burst ({2 * args.engines} writes): CPU per write (ms)",
                     "burst_cpu_ms", 2),
                    ("halt burst: last write answered (s)", "burst_last_s", 2)]  # fmt: skip
            for label, key, digits in rows:
                cells = "".join(f"{statistics.median(seen[f][key]):12.{digits}f}"
                                for f in ("tracked", "dropped"))  # fmt: skip
                print(f"{label:<44}{cells}", flush=True)
        finally:
            await kube.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", type=int, default=50, help="Engines in each fleet")
    parser.add_argument("--writes", type=int, default=600, help="report writes per round")
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
