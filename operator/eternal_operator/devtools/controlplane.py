"""A real Kubernetes control plane on loopback, envtest-style, for tests and the local stack.

etcd, kube-apiserver and (when built) kube-controller-manager with only the garbage-collector and
namespace controllers run as child processes on free 127.0.0.1 ports, with a generated token, a
generated kubeconfig and RBAC authorization. The binaries come from
`tests/tools/controlplane/build.sh` (or `$KUBEBUILDER_ASSETS`). Children die with this process.

By hand: `python -m eternal_operator.devtools.controlplane up` (or `make cluster-up`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .processes import free_port, port_in_use, spawn, stop

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO_ROOT / "tests" / "tools" / "controlplane" / "build.sh"
CRD_DIR = REPO_ROOT / "crds"
SAMPLES_DIR = REPO_ROOT / "manifests" / "samples"
ADMISSION_DIR = REPO_ROOT / "manifests" / "admission"
ADMISSION_PARAM = "eternal-engine-admission"
ADMIN_USER = "eternal-admin"
"""The control plane's admin (token auth); the local operator and the tests act as it."""


AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
"""
"""Writes only, once each (when answered), without bodies: what the benches count."""


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message says what to do."""


def find_binaries() -> Path:
    """The folder with kube-apiserver and etcd, building them on first use."""
    override = os.environ.get("EE_CONTROLPLANE_BIN")
    if override:
        return Path(override)
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=False
    )
    if result.returncode != 0:
        raise ControlPlaneError(
            f"building the control plane failed (exit {result.returncode}); "
            f"see the messages above, or run {BUILD_SCRIPT} by hand"
        )
    return Path(result.stdout.strip().splitlines()[-1])


def find_kubectl(bin_dir: Path) -> str:
    found = shutil.which("kubectl")
    if found:
        return found
    if (bin_dir / "kubectl").exists():
        return str(bin_dir / "kubectl")
    raise ControlPlaneError("no kubectl on PATH; run tests/tools/controlplane/build.sh")


@dataclass
class ControlPlane:
    """etcd + kube-apiserver (+ controller manager) under `data_dir`.

    With `ephemeral` (tests), etcd skips fsync; without it (the local stack), data survives a
    restart and the next start resumes where the last one stopped.
    """

    data_dir: Path
    apiserver_port: int = 0
    ephemeral: bool = True
    start_timeout_s: float = 120.0
    bin_dir: Path = field(default_factory=find_binaries)
    audit_log: Path | None = None
    """Opt-in (benches): the API server's audit log, one JSON line per write (create, update,
    patch, delete) at Metadata level (who, what, when; no bodies); reads and watches unlogged."""
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, init=False)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "certs" / "apiserver.crt"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start etcd, then kube-apiserver, wait until ready, write the kubeconfig."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.apiserver_port == 0:
            self.apiserver_port = free_port()
        elif port_in_use(self.apiserver_port):
            raise ControlPlaneError(
                f"port {self.apiserver_port} is already in use on 127.0.0.1: stop what is "
                "listening there, or choose another port with --port"
            )
        try:
            self._write_credentials()
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url)
            self._wait_ready()
            self._write_kubeconfig()
            self._start_controller_manager()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop everything, in reverse order of start; leaves no process behind."""
        for name in reversed(list(self._procs)):
            stop(self._procs.pop(name))

    def alive(self) -> dict[str, bool]:
        return {name: proc.poll() is None for name, proc in self._procs.items()}

    # -- pieces ------------------------------------------------------------------------------

    def _write_credentials(self) -> None:
        token_file = self.data_dir / "admin.token"
        if not token_file.exists():
            token_file.write_text(secrets.token_hex(24) + "\n")
            token_file.chmod(0o600)
        tokens = self.data_dir / "tokens.csv"
        tokens.write_text(f'{self.token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        tokens.chmod(0o600)
        key = self.data_dir / "sa.key"
        if not key.exists():
            for argv in (
                ["openssl", "genrsa", "-out", str(key), "2048"],
                [
                    "openssl",
                    "rsa",
                    "-in",
                    str(key),
                    "-pubout",
                    "-out",
                    str(key.with_suffix(".pub")),
                ],
            ):
                subprocess.run(argv, check=True, capture_output=True)

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        argv = [
            str(self.bin_dir / "etcd"),
            "--name=default",
            f"--data-dir={self.data_dir / 'etcd'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--log-level=warn",
        ]
        if self.ephemeral:
            argv.append("--unsafe-no-fsync")
        self._procs["etcd"] = spawn(argv, self.logs / "etcd.log")
        return url

    def _start_apiserver(self, etcd_url: str) -> None:
        argv = [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.apiserver_port}",
            f"--cert-dir={self.data_dir / 'certs'}",
            f"--token-auth-file={self.data_dir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={self.server}",
            f"--service-account-key-file={self.data_dir / 'sa.pub'}",
            f"--service-account-signing-key-file={self.data_dir / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            "--v=1",
        ]
        if self.audit_log is not None:
            argv += self._audit_flags(self.audit_log)
        self._procs["kube-apiserver"] = spawn(argv, self.logs / "kube-apiserver.log")

    def _audit_flags(self, log: Path) -> list[str]:
        policy = self.data_dir / "audit-policy.yaml"
        policy.write_text(AUDIT_POLICY)
        log.parent.mkdir(parents=True, exist_ok=True)
        # Blocking (the default mode): each line is written before the answer, so the log is
        # complete the moment a request has been answered.
        return [
            f"--audit-policy-file={policy}",
            f"--audit-log-path={log}",
            "--audit-log-format=json",
            "--audit-log-maxsize=100000",  # MB: never rotated under a reader (default 100)
        ]

    def _start_controller_manager(self) -> None:
        binary = self.bin_dir / "kube-controller-manager"
        if not binary.exists():
            return  # $KUBEBUILDER_ASSETS has none: no garbage collection, as with envtest
        argv = [
            str(binary),
            f"--kubeconfig={self.kubeconfig}",
            # validatingadmissionpolicy-status type-checks the admission policies' CEL.
            "--controllers=garbagecollector,namespace,validatingadmissionpolicy-status-controller",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--cert-dir={self.data_dir / 'certs-kcm'}",
            "--v=1",
        ]
        self._procs["kube-controller-manager"] = spawn(argv, self.logs / "kcm.log")

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        request = urllib.request.Request(  # noqa: S310 - https on loopback
            f"{self.server}/readyz", headers={"Authorization": f"Bearer {self.token}"}
        )
        last_error = "not started"
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise ControlPlaneError(
                        f"{name} exited with code {proc.returncode}; see {self.logs}/{name}.log"
                    )
            if self.ca_file.exists():
                try:
                    # https to our own loopback apiserver only, checked against its own CA
                    with urllib.request.urlopen(  # noqa: S310
                        request, context=self._ssl_context(), timeout=2
                    ):
                        return
                except (urllib.error.URLError, OSError) as error:
                    last_error = str(error)
            time.sleep(0.2)
        raise ControlPlaneError(
            f"kube-apiserver not ready after {self.start_timeout_s:.0f}s ({last_error}); "
            f"see {self.logs}/kube-apiserver.log"
        )

    def _write_kubeconfig(self) -> None:
        self.kubeconfig.write_text(
            f"""apiVersion: v1
kind: Config
clusters:
- name: eternal-local
  cluster:
    server: {self.server}
    certificate-authority: {self.ca_file}
users:
- name: eternal-admin
  user:
    token: {self.token}
contexts:
- name: eternal-local
  context:
    cluster: eternal-local
    user: eternal-admin
    namespace: default
current-context: eternal-local
"""
        )
        self.kubeconfig.chmod(0o600)

    # -- conveniences ------------------------------------------------------------------------

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this control plane; raises with kubectl's stderr on failure."""
        result = subprocess.run(
            [find_kubectl(self.bin_dir), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def install_crds(self, crd_dir: Path = CRD_DIR) -> None:
        """Apply the CRDs and wait until every one is Established."""
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd_dir))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(crd_dir))

    def install_admission(self, operator_user: str = ADMIN_USER) -> None:
        """Apply the admission policies (manifests/admission) and bind the status-writers
        policy to `operator_user`, as the chart does for the operator's ServiceAccount; return
        once the API server enforces them."""
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ADMISSION_DIR))
        for obj in admission_binding(operator_user, namespace="default"):
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                         input=json.dumps(obj))  # fmt: skip
        if "kube-controller-manager" not in self._procs:
            return  # no type checking without it (setup-envtest binaries): in force regardless
        names = ["eternal-engine-status-writers", "eternal-engine-latched-halts"]
        policies = [f"validatingadmissionpolicy/{n}" for n in names]
        self.kubectl("wait", "--for=jsonpath={.status.observedGeneration}=1", "--timeout=60s",
                     *policies)  # fmt: skip
        for policy in policies:
            out = self.kubectl("get", policy, "-o", "jsonpath={.status.typeChecking}").stdout
            if "expressionWarnings" in out:
                raise ControlPlaneError(f"{policy} does not type-check: {out}")


def admission_binding(operator_user: str, namespace: str) -> list[dict[str, object]]:
    """The param naming the operator's user, and the binding of the status-writers policy to it
    (the chart renders the same two objects for its ServiceAccount)."""
    return [
        {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ADMISSION_PARAM, "namespace": namespace},
            "data": {"operator": operator_user},
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "eternal-engine-status-writers"},
            "spec": {
                "policyName": "eternal-engine-status-writers",
                "validationActions": ["Deny"],
                "paramRef": {"name": ADMISSION_PARAM, "namespace": namespace,
                             "parameterNotFoundAction": "Deny"},
            },
        },
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eternal_operator.devtools.controlplane", description=__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start etcd + kube-apiserver in the foreground")
    up.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".local" / "controlplane")
    up.add_argument("--port", type=int, default=6443, help="kube-apiserver port (0: any free)")
    up.add_argument("--fresh", action="store_true", help="discard data from earlier runs")
    up.add_argument("--apply-samples", action="store_true", help="apply manifests/samples/")
    args = parser.parse_args(argv)

    if args.fresh and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
    try:
        plane = ControlPlane(data_dir=args.data_dir, apiserver_port=args.port, ephemeral=False)
        plane.start()
    except ControlPlaneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        plane.install_crds()
        if args.apply_samples:
            plane.kubectl("apply", "--server-side", "-k", str(SAMPLES_DIR))
        print(
            f"control plane ready at {plane.server} (logs: {plane.logs})\n\n"
            f"  export KUBECONFIG={plane.kubeconfig}\n"
            "  kubectl get engines,allocations,cbp\n\n"
            "Ctrl-C stops it; data is kept for the next start (--fresh discards it).",
            flush=True,
        )
        while not stopping:
            dead = [name for name, ok in plane.alive().items() if not ok]
            if dead:
                print(f"error: {', '.join(dead)} exited; see {plane.logs}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except ControlPlaneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        plane.stop()
        print("control plane stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
