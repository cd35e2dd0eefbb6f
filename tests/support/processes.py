"""Real processes the cluster tests run: the paper venue and the operator."""

from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from eternal_operator.devtools.processes import free_port, spawn, stop
from support.venue_admin import ADMIN_TOKEN, venue_env
from support.waiting import wait_for

MASTER_KEY = "PAPERMASTERKEY0001"
MASTER_SECRET = "PAPERMASTERSECRET0000000000000000001"
SUB1_UID = "100001"
SUB1_KEY = "PAPERSUBKEY0001"
SUB1_SECRET = "PAPERSUBSECRET000000000000000001"
SUB1_KEYS = {"apiKey": SUB1_KEY, "apiSecret": SUB1_SECRET}


def fresh_uid() -> str:
    """A subaccount UID that no other Engine of the session names: the operator claims each
    subaccount for one Engine, cluster-wide, so engines meant to be independent name their own
    (the venue keys they are given may still be SUB1's)."""
    return str(200_000_000 + secrets.randbelow(700_000_000))


@dataclass
class Venue:
    url: str
    process: Popen[bytes]
    log: Path
    admin_token: str = ADMIN_TOKEN


def start_venue(log: Path) -> Venue:
    port = free_port()
    argv = [sys.executable, "-m", "paper_venue", "--port", str(port)]
    process = spawn(argv, log, env=venue_env())
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/v5/market/time", timeout=1):
                return True
        except OSError:
            return False

    wait_for(up, 30, "the paper venue to listen")
    return Venue(url, process, log)


@dataclass
class Operator:
    process: Popen[bytes]
    log: Path
    metrics_port: int
    env: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[dict[str, object]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop(self.process)


def start_operator(
    kubeconfig: Path, venue: Venue, log: Path, *, name: str, namespaces: str, **overrides: str
) -> Operator:
    metrics = free_port()
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "EE_OPERATOR_NAMESPACES": namespaces,
        "EE_OPERATOR_RESYNC_SECONDS": "2",
        "EE_OPERATOR_SIMULATOR_URL": venue.url,
        "EE_OPERATOR_SIMULATOR_MASTER_API_KEY": MASTER_KEY,
        "EE_OPERATOR_SIMULATOR_MASTER_API_SECRET": MASTER_SECRET,
        "EE_OPERATOR_LOG_FORMAT": "json",
        "EE_OPERATOR_METRICS_PORT": str(metrics),
        "EE_OPERATOR_HEALTH_PORT": str(free_port()),
        "EE_OPERATOR_POD_NAME": name,
        "EE_OPERATOR_POD_NAMESPACE": "default",
        "EE_OPERATOR_LEASE_SECONDS": "4",
        "EE_OPERATOR_DELETE_DEADLINE_SECONDS": "30",
        "EE_OPERATOR_HEARTBEAT_TIMEOUT_SECONDS": "15",
        **{f"EE_OPERATOR_{k.upper()}": v for k, v in overrides.items()},
    }
    process = spawn([sys.executable, "-m", "eternal_operator"], log, env=env)
    return Operator(process, log, metrics, env)


def alive(pid: int) -> bool:
    """The process runs (a zombie counts as gone). It may end between the look and the read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.split()[2] != "Z"
