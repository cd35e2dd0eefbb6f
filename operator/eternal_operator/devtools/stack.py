"""The whole fleet on this machine, without Docker: `python -m eternal_operator.devtools.stack`.

`up` starts, in order: etcd + kube-apiserver (+ GC controller), PostgreSQL, Redis (Debian's
packages, private data under .local/, loopback), the paper venue with its market feed, the
operator, and the pod runner that runs each engine Deployment's pod as a local process; then it
applies the CRDs and the sample fleet, prints how to reach it, and supervises: PostgreSQL,
Redis, the venue, the operator and the pod runner are restarted when they exit (`supervisor`),
the venue from its snapshot. With monitoring (`make up` has it), Prometheus and Alertmanager
(Debian's binaries, `devtools.monitoring`) start last, supervised too: Prometheus loads the
production alert rules and scrapes the operator and every runtime (the pod runner lists them),
Alertmanager notifies its default webhook (EE_ALERT_WEBHOOK_URL) or follows the user's own
config (EE_ALERTMANAGER_CONFIG). Ctrl-C (or `stop`) stops it all in reverse order. Data under
.local/ is reused by the next `up` (`--fresh` discards it). `status` lists the components,
whether each is up and how often it was restarted. Logs: .local/logs/.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .controlplane import REPO_ROOT, SAMPLES_DIR, ControlPlane, ControlPlaneError
from .datastores import DatastoreError, PostgresServer, RedisServer
from .monitoring import (
    MonitoringError,
    MonitoringSettings,
    alertmanager_argv,
    binaries,
    prometheus_argv,
    targets_file,
    write_alertmanager,
    write_prometheus,
)
from .processes import port_in_use, spawn
from .supervisor import Child, Supervisor
from .tcpproxy import TcpProxy

STATE = REPO_ROOT / ".local"
# What to try once the fleet is up; scripts/kind-up.sh prints the same lines.
TRY_IT = SAMPLES_DIR / "try-it.txt"
VENUE_MASTER_KEY = "PAPERMASTERKEY0001"  # the paper venue's documented default master key
VENUE_MASTER_SECRET = "PAPERMASTERSECRET0000000000000000001"  # noqa: S105 - paper money only
PORTS = {"kube-apiserver": 6443, "postgres": 15432, "redis": 16379, "paper-venue": 8399,
         "operator-metrics": 18080, "operator-health": 18081,
         "prometheus": 19090, "alertmanager": 19093}  # fmt: skip
MONITORING = ("prometheus", "alertmanager")
URLS = {"prometheus": "http://127.0.0.1:{port}/alerts",
        "alertmanager": "http://127.0.0.1:{port}/#/alerts"}  # fmt: skip


class StackError(Exception):
    """A component could not start; the message says what to do."""


@dataclass
class Component:
    name: str
    port: int
    pid: int
    restarts: int = 0


def _check_ports(ports: dict[str, int]) -> None:
    busy = [f"{name} ({port})" for name, port in ports.items() if port_in_use(port)]
    if busy:
        raise StackError(
            f"port(s) already in use on 127.0.0.1: {', '.join(busy)}. Is a stack already up "
            "(`python -m eternal_operator.devtools.stack status`)? Stop it, or what listens there."
        )


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with a new file only its owner can read."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    tmp.replace(path)


def _wait_port(
    port: int, name: str, alive: Callable[[], bool], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise StackError(f"{name} exited; see {log}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise StackError(f"{name} did not listen on {port} within {timeout:.0f}s; see {log}")


class Stack:
    def __init__(
        self,
        root: Path = STATE,
        ports: dict[str, int] | None = None,
        operator_env: dict[str, str] | None = None,
        apply_samples: bool = True,
        venue_settings: dict[str, object] | None = None,
        pods_through_proxy: bool = False,
        run_pods: bool = True,
        audit_log: Path | None = None,
        monitoring: MonitoringSettings | None = None,
    ) -> None:
        self.root = root
        self.ports = {**PORTS, **(ports or {})}
        self.operator_env = operator_env or {}
        self.apply_samples = apply_samples
        self.venue_settings = venue_settings or {}
        """More paper-venue settings (e.g. an accelerated clock), for tests and benches."""
        self.pods_through_proxy = pods_through_proxy
        """Pods reach the API server through `self.pod_proxy`, which can cut the line."""
        self.pod_proxy: TcpProxy | None = None
        self.run_pods = run_pods
        """Start the pod runner (off: engine Deployments get no process; a bench plays them)."""
        self.audit_log = audit_log
        """The API server's audit log of writes (`ControlPlane.audit_log`), for benches."""
        self.monitoring = monitoring
        """Run Prometheus and Alertmanager (None: not)."""
        self.logs = root / "logs"
        self.plane: ControlPlane | None = None
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.supervisor = Supervisor(on_change=self._save)
        self._fixed: list[Component] = []
        self.venue_token = ""

    def up(self) -> None:
        used = {k: v for k, v in self.ports.items() if k not in MONITORING or self.monitoring}
        _check_ports(used)
        if self.monitoring is not None:
            binaries()
        self.root.mkdir(parents=True, exist_ok=True)
        self.plane = ControlPlane(
            data_dir=self.root / "controlplane", apiserver_port=self.ports["kube-apiserver"],
            ephemeral=False, audit_log=self.audit_log,
        )  # fmt: skip
        started = self._starting("control plane (etcd, kube-apiserver; built on first use)")
        self.plane.start()
        self._ready("control plane", started)
        apiserver = self.plane._procs["kube-apiserver"].pid
        self._fixed.append(Component("kube-apiserver", self.ports["kube-apiserver"], apiserver))
        self.postgres = PostgresServer(
            self.root / "postgres", port=self.ports["postgres"], fast=False
        )
        self._server("postgres", self.postgres, self.postgres.base_dir / "postgres.log")
        database = self.postgres.create_database("eternal")
        self.redis = RedisServer(self.root / "redis", port=self.ports["redis"], fast=False)
        self._server("redis", self.redis, self.redis.data_dir / "redis.log")
        self._venue()
        started = self._starting("CRDs and admission policies")
        self.plane.install_crds()
        self.plane.install_admission()
        self._ready("CRDs and admission policies", started)
        self._runtime_env(database, self.redis.url)
        env = {**os.environ, "KUBECONFIG": str(self.plane.kubeconfig)}
        operator = [sys.executable, "-m", "eternal_operator"]
        self._child("operator", self.ports["operator-health"], operator, {
            **env,
            "EE_OPERATOR_SIMULATOR_URL": f"http://127.0.0.1:{self.ports['paper-venue']}",
            "EE_OPERATOR_SIMULATOR_MASTER_API_KEY": VENUE_MASTER_KEY,
            "EE_OPERATOR_SIMULATOR_MASTER_API_SECRET": VENUE_MASTER_SECRET,
            "EE_OPERATOR_DATABASE_URL": database,
            "EE_OPERATOR_REDIS_URL": self.redis.url,
            "EE_OPERATOR_METRICS_PORT": str(self.ports["operator-metrics"]),
            "EE_OPERATOR_HEALTH_PORT": str(self.ports["operator-health"]),
            "EE_OPERATOR_POD_NAMESPACE": "default",
            **self.operator_env,
        })  # fmt: skip
        if self.run_pods:
            self._pod_runner(env)
        if self.monitoring is not None:
            self._monitoring(self.monitoring)
        if self.apply_samples:
            self.plane.kubectl("apply", "--server-side", "-k", str(SAMPLES_DIR))
        self._save()

    def _pod_runner(self, env: dict[str, str]) -> None:
        assert self.plane is not None
        runner = [
            sys.executable, "-m", "eternal_operator.devtools.podrunner",
            "--root", str(self.root / "pods"), "--ca-file", str(self.plane.ca_file),
        ]  # fmt: skip
        if self.monitoring is not None:
            runner += ["--targets-file", str(targets_file(self.root))]
        if self.pods_through_proxy:
            self.pod_proxy = TcpProxy(self.ports["kube-apiserver"])
            self.pod_proxy.start()
            runner += ["--pod-server", self.pod_proxy.url]
        self._child("pod-runner", 0, runner, env)

    def _monitoring(self, settings: MonitoringSettings) -> None:
        """Alertmanager, then Prometheus (which sends it the alerts), both on loopback."""
        am_port, prom_port = self.ports["alertmanager"], self.ports["prometheus"]
        am_config = write_alertmanager(self.root, settings)
        self._child("alertmanager", am_port, alertmanager_argv(self.root, am_config, am_port),
                    dict(os.environ))  # fmt: skip
        config = write_prometheus(self.root, settings, self.ports["operator-metrics"], am_port)
        self._child("prometheus", prom_port, prometheus_argv(self.root, config, prom_port),
                    dict(os.environ))  # fmt: skip

    def url(self, name: str) -> str:
        """Where to browse Prometheus's or Alertmanager's alerts."""
        return URLS[name].format(port=self.ports[name])

    def _child(self, name: str, port: int, argv: list[str], env: dict[str, str]) -> None:
        """Start a process of ours, supervised, and wait until it listens on `port`."""
        log = self.logs / f"{name}.log"
        started = self._starting(name)
        child = Child(name, port, log, partial(spawn, argv, log, env=env), None)
        process = child.process = child.launch()
        self.supervisor.add(child)
        if port:
            _wait_port(port, name, lambda: process.poll() is None, log)
        self._ready(name, started)

    def _server(self, name: str, server: PostgresServer | RedisServer, log: Path) -> None:
        """Start PostgreSQL or Redis (it waits until ready), supervised."""

        def launch() -> subprocess.Popen[bytes]:
            server.start()
            assert server.process is not None
            return server.process

        started = self._starting(name)
        child = Child(name, self.ports[name], log, launch, None, halt=lambda _: server.stop())
        child.process = launch()
        self.supervisor.add(child)
        self._ready(name, started)

    def _starting(self, what: str) -> float:
        """A progress line on stderr as a component starts; its start time for `_ready`."""
        print(f"stack: starting {what}...", file=sys.stderr, flush=True)
        return time.monotonic()

    def _ready(self, what: str, started: float) -> None:
        took = time.monotonic() - started
        print(f"stack: {what} ready ({took:.1f}s)", file=sys.stderr, flush=True)

    @property
    def components(self) -> list[Component]:
        """What runs now: the control plane, then each supervised process."""
        return self._fixed + [
            Component(c.name, c.port, c.pid, c.crashes.restarts) for c in self.supervisor.children
        ]

    def process(self, name: str) -> subprocess.Popen[bytes] | None:
        """The running process of a supervised component (None while it waits to restart)."""
        return self.supervisor.child(name).process

    def supervise(self) -> None:
        """Restart what exits, until `down` (blocks: `make up` runs it in the foreground)."""
        self.supervisor.run()

    def _venue(self) -> None:
        config = self.root / "venue" / "venue.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        # The venue saves its state at shutdown and restores it at start: the fleet resumes.
        snapshot = str(config.with_name("state.json"))
        config.write_text(
            json.dumps(
                {"port": self.ports["paper-venue"], "snapshot_path": snapshot} | self.venue_settings
            )
        )
        # Its admin API (keys for any account, deposits) wants a token: a fresh one per `up`,
        # kept where the user can read it (`X-Admin-Token: $(cat .local/venue/admin-token)`).
        self.venue_token = secrets.token_urlsafe(32)
        _write_private(self.venue_token_file, self.venue_token)
        env = {**os.environ, "PAPER_VENUE_ADMIN_TOKEN": self.venue_token}
        argv = [sys.executable, "-m", "paper_venue", "--config", str(config)]
        self._child("paper-venue", self.ports["paper-venue"], argv, env)

    @property
    def venue_token_file(self) -> Path:
        """The paper venue's admin token (mode 0600)."""
        return self.root / "venue" / "admin-token"

    def _runtime_env(self, database: str, redis: str) -> None:
        """The Secret every runtime in `default` gets as env (EE_OPERATOR_RUNTIME_ENV_SECRET)."""
        assert self.plane is not None
        # Strategies act on 1-minute bars here, so a local fleet visibly trades within minutes;
        # in production they run on daily bars, as they are backtested (EE_BAR_INTERVAL=D).
        data = {"EE_DATABASE_URL": database, "EE_REDIS_URL": redis, "EE_BAR_INTERVAL": "1"}
        secret = {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "eternal-engine-runtime-env", "namespace": "default"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }  # fmt: skip
        self.plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(secret))

    def _save(self) -> None:
        (self.root / "stack.json").write_text(json.dumps({
            "pid": os.getpid(),
            "components": [c.__dict__ for c in self.components],
            "kubeconfig": str(self.plane.kubeconfig) if self.plane else None,
            "urls": {n: self.url(n) for n in MONITORING if self.monitoring is not None},
        }, indent=2))  # fmt: skip

    def down(self) -> None:
        """Stop everything this stack started, newest first (no restarts from then on)."""
        self.supervisor.stop()
        if self.pod_proxy is not None:
            self.pod_proxy.stop()
        for server in (self.redis, self.postgres):  # also one that failed to start
            if server is not None:
                server.stop()
        if self.plane is not None:
            self.plane.stop()
        (self.root / "stack.json").unlink(missing_ok=True)


def status(root: Path = STATE) -> int:
    state_file = root / "stack.json"
    if not state_file.exists():
        print("no stack is up")
        return 1
    state = json.loads(state_file.read_text())
    healthy = True
    for c in state["components"]:
        alive = c["pid"] > 0 and Path(f"/proc/{c['pid']}").exists()
        listening = c["port"] == 0 or port_in_use(c["port"])
        ok = alive and listening
        healthy &= ok
        where = f"127.0.0.1:{c['port']}" if c["port"] else "-"
        restarts = c.get("restarts", 0)
        print(f"{c['name']:<16} {'up' if ok else 'DOWN':<5} pid {c['pid']:<8} {where:<16} "
              f"restarts {restarts}")  # fmt: skip
    for name, url in state.get("urls", {}).items():
        print(f"{name + ':':<14} {url}")
    print(f"\nexport KUBECONFIG={state['kubeconfig']}")
    return 0 if healthy else 1


def request_stop(root: Path = STATE) -> int:
    state_file = root / "stack.json"
    if not state_file.exists():
        print("no stack is up")
        return 0
    pid = json.loads(state_file.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        state_file.unlink()
        return 0
    deadline = time.monotonic() + 120
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    print("stack stopped")
    return 0


def try_it() -> str:
    """The commands to try on the fleet (manifests/samples/try-it.txt), indented."""
    return "".join(f"  {line}\n" for line in TRY_IT.read_text().splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eternal_operator.devtools.stack")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything in the foreground (Ctrl-C stops)")
    up.add_argument("--fresh", action="store_true", help="discard .local/ data first")
    up.add_argument(
        "--no-monitoring", action="store_true", help="without Prometheus and Alertmanager"
    )
    sub.add_parser("stop", help="stop a running stack")
    sub.add_parser("status", help="list the components and their health")
    args = parser.parse_args(argv)
    if args.command == "status":
        return status()
    if args.command == "stop":
        return request_stop()
    if args.fresh and STATE.exists():
        shutil.rmtree(STATE)
    monitoring = None if args.no_monitoring else MonitoringSettings.from_environment()
    stack = Stack(monitoring=monitoring)

    def on_signal(signum: int, _frame: object) -> None:
        stack.supervisor.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.up()
        print(
            "\nEternal Engine is up (logs: .local/logs/). Try:\n\n"
            f"  export KUBECONFIG={stack.plane.kubeconfig if stack.plane else ''}\n"
            f"{try_it()}\n"
            + "".join(f"{n}: {stack.url(n)}\n" for n in MONITORING if stack.monitoring)
            + "\nCtrl-C, or `make down` in another shell, stops everything.",
            flush=True,
        )
        stack.supervise()
    except (StackError, ControlPlaneError, DatastoreError, MonitoringError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        stack.down()
        print("stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
