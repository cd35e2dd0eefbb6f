"""The local stack: start-up time, memory of each component, and resuming from its data.

    .venv/bin/python bench/stack_bench.py

1. A fresh start (data directories empty; the control-plane binaries already built: their cold
   build is bench/controlplane_bench.py --cold) until all four sample engines are Running and
   funded. 2. The resident memory of every component, runtimes included. 3. A stop, and a start
   on the same data until the four are Running again, checking that the fleet resumed: the same
   high-water mark, and no second monthly contribution.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from eternal_operator.devtools.processes import free_port
from eternal_operator.devtools.stack import PORTS, Stack

ENGINES = ("core-hodl", "trend", "funding", "tactical")


def rss_mib(pid: int) -> float:
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total = int(line.split()[1])
    return total / 1024


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def running(stack: Stack) -> bool:
    assert stack.plane is not None
    out = stack.plane.kubectl("get", "engines", "-o", "json", check=False).stdout
    items = json.loads(out)["items"] if out else []
    return len(items) == 4 and all(
        i.get("status", {}).get("phase") == "Running"
        and Decimal((i["status"].get("runtime") or {}).get("equity") or 0) > 0
        for i in items
    )


def until(stack: Stack, probe: Any, limit_s: float = 600) -> float:
    started = time.monotonic()
    while not probe(stack):
        if time.monotonic() - started > limit_s:
            raise TimeoutError("the fleet did not come up")
        time.sleep(0.5)
    return time.monotonic() - started


def status(stack: Stack, kind: str, name: str) -> dict[str, Any]:
    assert stack.plane is not None
    return dict(json.loads(stack.plane.kubectl("get", kind, name, "-o", "json").stdout)["status"])


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="stack-bench-"))
    ports = {name: free_port() for name in PORTS}
    stack = Stack(root=root, ports=ports)
    started = time.monotonic()
    stack.up()
    up_s = time.monotonic() - started
    fleet_s = up_s + until(stack, running)
    memory = {c.name: rss_mib(c.pid) for c in stack.components}
    runner = next(c.pid for c in stack.components if c.name == "pod-runner")
    runtimes = [rss_mib(p) for p in children(runner)]
    hwm = status(stack, "cbp", "eternal")["highWaterMark"]
    transfers = len(status(stack, "alloc", "eternal")["transfers"])
    stack.down()

    again = Stack(root=root, ports=ports)
    started = time.monotonic()
    again.up()
    warm_up_s = time.monotonic() - started
    warm_fleet_s = warm_up_s + until(again, running)
    time.sleep(10)  # several governance and allocation passes on the old data
    resumed_hwm = status(again, "cbp", "eternal")["highWaterMark"]
    resumed_transfers = len(status(again, "alloc", "eternal")["transfers"])
    again.down()

    print(f"fresh start: components up {up_s:6.1f} s, four engines Running and funded "
          f"{fleet_s:6.1f} s")  # fmt: skip
    print(f"restart on the same data: components up {warm_up_s:6.1f} s, "
          f"four engines Running {warm_fleet_s:6.1f} s")  # fmt: skip
    for name, mib in memory.items():
        print(f"  RSS {name:<16} {mib:7.1f} MiB")
    print(f"  RSS runtimes (4)       {sum(runtimes):7.1f} MiB "
          f"({', '.join(f'{m:.0f}' for m in runtimes)})")  # fmt: skip
    print(f"resumed: high-water mark {hwm} -> {resumed_hwm}; transfers {transfers} -> "
          f"{resumed_transfers} (no second contribution)")  # fmt: skip
    ok = resumed_transfers == transfers and Decimal(resumed_hwm) >= Decimal(hwm)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
