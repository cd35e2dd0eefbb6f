"""Running `python -m engine_runtime` as a real process against the paper venue, PostgreSQL
and Redis, with the scripted strategy; and reading what it did."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

from eternal_operator.devtools.processes import free_port, spawn, stop
from support.venue_admin import admin, venue_env
from support.waiting import wait_for

TESTS = Path(__file__).resolve().parents[1]
VENUE_CONFIG = (
    "clock:\n  mode: accelerated\n  speed: 60\n"  # a one-minute bar every wall second
    "feed:\n  backfill_minutes: 60\n"
)


@dataclass
class Account:
    uid: int
    api_key: str
    api_secret: str


def new_account(venue_url: str, username: str, usdt: str = "10000") -> Account:
    """A fresh funded subaccount with an API key (the paper venue's admin API)."""
    made = admin(venue_url, "accounts", {"username": username, "balances": {"USDT": usdt}})
    return Account(int(made["uid"]), made["api_key"], made["api_secret"])


def start_fast_venue(directory: Path, config_text: str = VENUE_CONFIG) -> tuple[str, Popen[bytes]]:
    """The paper venue as a process, its market clock at 60x (or as `config_text` says; admin:
    `venue_admin.admin`)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "venue.yaml"
    config.write_text(config_text)
    port = free_port()
    process = spawn(
        [
            sys.executable,
            "-m",
            "paper_venue",
            "--port",
            str(port),
            "--config",
            str(config),
        ],
        directory / "venue.log",
        env=venue_env(),
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/v5/market/time", timeout=1):
                return True
        except OSError:
            return False

    wait_for(up, 30, "the paper venue")
    return url, process


def engine_json(
    name: str,
    namespace: str,
    venue_url: str,
    *,
    params: dict[str, Any],
    symbols: list[str] | None = None,
    health_port: int,
    metrics_port: int,
    risk: dict[str, Any] | None = None,
    subaccount: str = "100001",
    strategy: str = "trend",
) -> dict[str, Any]:
    ws = "ws://" + venue_url.removeprefix("http://")
    return {
        "engine": {"name": name, "namespace": namespace, "uid": "uid-" + name},
        "strategy": strategy,
        "params": params,
        "symbols": symbols or ["BTCUSDT"],
        "venue": "simulator",
        "endpoints": {"restUrl": venue_url, "publicWsUrl": ws, "privateWsUrl": ws},
        "subaccount": subaccount,
        "risk": risk
        or {
            "maxLeverage": "3",
            "maxPositionFraction": "0.9",
            "maxConcurrentPositions": 4,
            "dailyLossLimit": "0.5",
            "weeklyLossLimit": "0.5",
            "minSignalConfidence": "0.5",
        },
        "metricsPort": metrics_port,
        "healthPort": health_port,
    }


@dataclass
class RuntimeProcess:
    directory: Path
    env: dict[str, str]
    health_port: int
    metrics_port: int
    process: Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def commands(self) -> Path:
        return self.directory / "commands.jsonl"

    def order_events(self) -> list[dict[str, Any]]:
        """What the scripted strategy heard in `on_order_event` (with `eventsFile` set)."""
        path = self.directory / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def command(self, **command: Any) -> None:
        with self.commands.open("a") as out:
            out.write(json.dumps(command) + "\n")

    def start(self) -> RuntimeProcess:
        self.starts += 1
        log = self.directory / f"runtime-{self.starts}.log"
        self.logs.append(log)
        self.process = spawn([sys.executable, "-m", "engine_runtime"], log, env=self.env)
        return self

    def probe(self, path: str) -> int:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}{path}", timeout=1
            ) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            return 0

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"runtime exited {self.process.returncode}:\n{self.text()}")
            return self.probe("/readyz") == 200

        wait_for(ready, timeout, "the runtime to be ready")

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2
        ) as answer:
            return str(answer.read().decode())

    def text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())[-20000:]

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process is None:
            return 0
        stop(self.process, grace_seconds=20)
        return int(self.process.returncode)


def make_runtime(
    directory: Path,
    *,
    name: str,
    venue_url: str,
    database_url: str,
    redis_url: str,
    account: Account,
    namespace: str = "default",
    kubeconfig: Path | None = None,
    extra_params: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    symbols: list[str] | None = None,
    risk: dict[str, Any] | None = None,
    builtin: str | None = None,
) -> RuntimeProcess:
    """The runtime driven by the scripted strategy; with `builtin` ('core-hodl', 'trend', ...),
    that strategy from the registry on its default parameters instead."""
    directory.mkdir(parents=True, exist_ok=True)
    health, metrics = free_port(), free_port()
    scripted = {
        "commandsFile": str(directory / "commands.jsonl"),
        "eventsFile": str(directory / "events.jsonl"),
    }
    params = {**({} if builtin else scripted), **(extra_params or {})}
    config = engine_json(
        name,
        namespace,
        venue_url,
        params=params,
        symbols=symbols,
        health_port=health,
        metrics_port=metrics,
        risk=risk,
        subaccount=str(account.uid),
        strategy=builtin or "trend",
    )
    (directory / "engine.json").write_text(json.dumps(config))
    key, secret = account.api_key, account.api_secret
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "EE_CONFIG_PATH": str(directory / "engine.json"),
        "EE_ENGINE_NAME": name,
        "EE_ENGINE_NAMESPACE": namespace,
        "EE_POD_NAME": f"{name}-pod",
        "EE_DATABASE_URL": database_url,
        "EE_REDIS_URL": redis_url,
        "BYBIT_API_KEY": key,
        "BYBIT_API_SECRET": secret,
        "EE_STRATEGY_FACTORY": "" if builtin else "support.scripted_strategy:create",
        "EE_REPORT_INTERVAL_SECONDS": "1",
        "EE_DCP_WINDOW_SECONDS": "0",
        "EE_BAR_INTERVAL": "1",
        "EE_KUBERNETES": "true" if kubeconfig else "false",
        **({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {}),
        **(extra_env or {}),
    }
    return RuntimeProcess(directory, env, health, metrics)


def pod_runtime(
    directory: Path, *, engine: str, namespace: str, config: str, api_key: str, api_secret: str,
    kubeconfig: Path, database_url: str, redis_url: str,
) -> RuntimeProcess:  # fmt: skip
    """The runtime as its pod runs it: the operator's engine.json (from the ConfigMap), the keys
    from the credentials Secret, the Engine's name and namespace, access to the API server."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "engine.json").write_text(config)
    health, metrics = free_port(), free_port()
    env = {
        **os.environ,
        "EE_CONFIG_PATH": str(directory / "engine.json"),
        "EE_ENGINE_NAME": engine,
        "EE_ENGINE_NAMESPACE": namespace,
        "EE_POD_NAME": f"{engine}-runtime-0",
        "EE_DATABASE_URL": database_url,
        "EE_REDIS_URL": redis_url,
        "EE_HEALTH_PORT": str(health),
        "EE_METRICS_PORT": str(metrics),
        "BYBIT_API_KEY": api_key,
        "BYBIT_API_SECRET": api_secret,
        "KUBECONFIG": str(kubeconfig),
    }
    return RuntimeProcess(directory, env, health, metrics)
