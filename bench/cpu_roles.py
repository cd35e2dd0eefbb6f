"""Where a machine's CPU went during a bench run, by role (each process by its command line),
with what lies outside the bench's own process tree counted apart."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_HZ = os.sysconf("SC_CLK_TCK")
ROLES = (("kube-apiserver", "API server"), ("/etcd ", "etcd"), ("paper_venue", "paper venue"),
         ("-m engine_runtime", "runtimes"), ("podrunner", "pod runner"),
         ("-m eternal_operator", "operator"), ("postgres", "PostgreSQL"), ("redis", "Redis"),
         ("governance_bench", "this bench"))  # fmt: skip


Cpu = dict[tuple[int, int], tuple[str, float]]
"""(pid, start time): role, CPU seconds used so far."""


def cpu_now() -> Cpu:
    """Every process on the machine: its role (by command line; outside this bench's process
    tree, e.g. another stack or a test run, "not this bench") and the CPU seconds it used."""
    procs: dict[int, tuple[int, int, str, float]] = {}  # pid: parent, start, command, CPU
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()  # from field 3: ppid 4, utime 14, stime 15
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_HZ
        procs[int(entry)] = (int(fields[1]), int(fields[19]), command, cpu)
    ours = {os.getpid()}
    grown = True
    while grown:
        grown = False
        for pid, (parent, *_) in procs.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                grown = True
    snapshot: Cpu = {}
    for pid, (_, start, command, cpu) in procs.items():
        role = next((name for key, name in ROLES if key in command), "other")
        snapshot[(pid, start)] = (role if pid in ours else "not this bench", cpu)
    return snapshot


def cpu_since(before: Cpu) -> dict[str, float]:
    """CPU seconds by role since `before`, of the processes alive now (one that exited
    meanwhile is not counted)."""
    used: dict[str, float] = {}
    for key, (role, cpu) in cpu_now().items():
        used[role] = used.get(role, 0.0) + cpu - before.get(key, (role, 0.0))[1]
    return used
