"""`kubectl eternal` against a real kube-apiserver, with the operator governing stand-in runtimes.

Every command runs the installed entry point (`.venv/bin/kubectl-eternal`) as a subprocess with
the test API server's kubeconfig, and once through kubectl itself, which finds the plugin on
PATH. A halt and a reset go through the real operator, whose answer the plugin must print.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eternal_operator.devtools.controlplane import ControlPlane, find_kubectl
from support.governance import emergency_halt, governed, own_namespace, policy_status, start
from support.kube import get
from support.processes import Operator, Venue, fresh_uid
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

PREFIX = "kce"
PLUGIN = Path(sys.executable).parent / "kubectl-eternal"
RESET = "trading.eternal-engine.io/reset"
FORCE = "trading.eternal-engine.io/reset-force"


@pytest.fixture(scope="module")
def kce_operator(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    op = start(
        control_plane, paper_venue, Path(tmp_path_factory.mktemp("kce")) / "op.log", prefix=PREFIX
    )
    yield op
    op.stop()


@pytest.fixture
def ns(control_plane: ControlPlane, kce_operator: Operator) -> Iterator[str]:
    with own_namespace(control_plane, PREFIX) as name:
        yield name


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed plugin, as a person runs it (output piped: no colour expected)."""
    return subprocess.run(
        [str(PLUGIN), *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def eternal(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return run(*args, "--kubeconfig", str(plane.kubeconfig))


def test_the_plugin_is_installed_with_the_project() -> None:
    assert PLUGIN.exists(), "make install puts kubectl-eternal in .venv/bin"


def test_status_shows_the_engines_and_the_policy_as_text_and_json(
    control_plane: ControlPlane, ns: str
) -> None:
    with governed(control_plane, ns, {"alpha": "60000", "beta": "40000"}):
        wait_for(lambda: policy_status(control_plane, ns).get("equity"), 30, "equity")
        # kubectl finds the plugin on PATH: `kubectl eternal ...` is the same program
        kubectl = find_kubectl(control_plane.bin_dir)

        def consistent() -> tuple[dict[str, Any], dict[str, Any]] | None:
            """The plugin's view and the policy's status read right after, once they agree
            (the operator rewrites its figures every few seconds)."""
            answer = subprocess.run(
                [kubectl, "eternal", "status", "-n", ns, "-o", "json"],
                capture_output=True, text=True, timeout=60,
                env={**os.environ, "KUBECONFIG": str(control_plane.kubeconfig),
                     "PATH": f"{PLUGIN.parent}{os.pathsep}{os.environ['PATH']}"},
            )  # fmt: skip
            assert answer.returncode == 0, answer.stderr
            view = json.loads(answer.stdout)
            status = policy_status(control_plane, ns)
            (p,) = view["policies"]
            keys = ("equity", "navPerUnit", "highWaterMark", "drawdown", "level", "halted")
            return (view, status) if all(p[k] == status.get(k) for k in keys) else None

        view, status = wait_for(consistent, 30, "the plugin to show the policy's status")
        engines = {e["name"]: e for e in view["engines"]}
        assert set(engines) == {"alpha", "beta"}
        assert engines["alpha"]["equity"] == "60000"  # as the runtime reported it
        assert engines["beta"]["equity"] == "40000"
        assert engines["alpha"]["heartbeatAgeSeconds"] < 30
        assert engines["alpha"]["directive"]["policy"] == "eternal"
        (p,) = view["policies"]
        assert p["name"] == "eternal"
        assert p["equity"] is not None
        assert p["highWaterMark"] is not None
        assert sorted(p["engines"]) == ["alpha", "beta"] == sorted(status["engines"])
        assert p["level"] == status["level"]

        text = eternal(control_plane, "status", "-n", ns)
        assert text.returncode == 0, text.stderr
        assert "\x1b" not in text.stdout  # piped: no colour
        lines = text.stdout.splitlines()
        assert any(re.match(r"^  alpha\s+\S+\s+60,000\.00\s", line) for line in lines), text.stdout
        assert any(re.match(r"^  eternal\s+[\d,]+\.\d\d\s+\d+\.\d{4}\s+\d+\.\d{4}\s", line)
                   for line in lines), text.stdout  # fmt: skip

        every = eternal(control_plane, "status", "-A", "-o", "json")
        assert every.returncode == 0, every.stderr
        assert {(e["namespace"], e["name"]) for e in json.loads(every.stdout)["engines"]} >= {
            (ns, "alpha"), (ns, "beta"),
        }  # fmt: skip


def test_halt_then_resets_show_the_operators_refusal_and_then_the_lift(
    control_plane: ControlPlane, ns: str
) -> None:
    with governed(control_plane, ns, {"alpha": "50000"}):
        halted = eternal(control_plane, "halt", "eternal", "-n", ns, "--wait", "15s")
        assert halted.returncode == 0, halted.stdout + halted.stderr
        assert (get(control_plane, "cbp", "eternal", ns) or {})["spec"]["emergencyHalt"] is True
        assert "halted by the operator: HALTED" in halted.stdout
        assert "engines halted: alpha" in halted.stdout
        assert policy_status(control_plane, ns)["halted"] is True

        # emergencyHalt is still true: the operator refuses, and says why in an Event
        refused = eternal(control_plane, "reset", "eternal", "-n", ns, "--wait", "15s")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert ("REFUSED by the operator: spec.emergencyHalt is still true: set it to false "
                "first") in refused.stdout  # fmt: skip
        token = re.search(r"token (\S+)", refused.stdout)
        assert token is not None
        assert policy_status(control_plane, ns)["refusedResetToken"] == token.group(1)
        assert policy_status(control_plane, ns)["halted"] is True

        emergency_halt(control_plane, ns, False)  # as Git would
        lifted = eternal(control_plane, "reset", "eternal", "-n", ns, "--wait", "15s")
        assert lifted.returncode == 0, lifted.stdout + lifted.stderr
        assert "reset: the halt is lifted: not halted, level " in lifted.stdout
        token = re.search(r"token (\S+)", lifted.stdout)
        assert token is not None
        status = policy_status(control_plane, ns)
        assert status["resetToken"] == token.group(1)
        assert status["halted"] is False
        annotations = (get(control_plane, "cbp", "eternal", ns) or {})["metadata"]["annotations"]
        assert annotations[RESET] == token.group(1)
        assert FORCE not in annotations

        again = eternal(control_plane, "reset", "eternal", "-n", ns)
        assert again.returncode == 0
        assert "is not halted: nothing to reset" in again.stdout


def test_a_reset_refused_for_drawdown_is_forced_with_force(
    control_plane: ControlPlane, ns: str
) -> None:
    with governed(control_plane, ns, {"alpha": "100"}) as runtimes:
        runtimes.equity["alpha"] = "70"  # 30% down: level 4, latched halt
        wait_for(lambda: policy_status(control_plane, ns).get("halted"), 20, "the halt")

        refused = eternal(control_plane, "reset", "eternal", "-n", ns, "--wait", "15s")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert re.search(
            r"REFUSED by the operator: drawdown 0\.3000 is still at or beyond the halting level "
            r"0\.25; annotate trading\.eternal-engine\.io/reset-force=true", refused.stdout
        ), refused.stdout  # fmt: skip

        forced = eternal(control_plane, "reset", "eternal", "-n", ns, "--force", "--wait", "15s")
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert "reset requested (forced)" in forced.stdout
        assert "the halt is lifted: not halted, level 0" in forced.stdout
        status = policy_status(control_plane, ns)
        assert status["halted"] is False
        assert status["highWaterMark"] != "1"  # a new high-water mark at today's NAV
        # the force annotation meant that reset only: the next reset is not forced by it
        annotations = (get(control_plane, "cbp", "eternal", ns) or {})["metadata"]["annotations"]
        assert FORCE not in annotations


class FakeKubelet:
    """The kubelet's log endpoint on 127.0.0.1, for a Node object that points at it: the API
    server proxies `pods/log` to it as to a real kubelet (it does not verify kubelet
    certificates unless told to), so the plugin's request goes through the real endpoint."""

    def __init__(self, cert: Path) -> None:
        requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                body = b"runtime started\nhalt in force (sequence 3)\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.requests = requests
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, cert.with_suffix(".key"))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKubelet:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_logs_reads_the_runtime_pods_log_through_the_api(
    control_plane: ControlPlane, ns: str
) -> None:
    kubectl = control_plane.kubectl
    missing = eternal(control_plane, "logs", "nope", "-n", ns)
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    assert "Traceback" not in missing.stderr

    node = f"kce-node-{secrets.token_hex(3)}"
    with FakeKubelet(control_plane.ca_file) as kubelet:
        kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}}},
        }))  # fmt: skip
        try:
            kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
                "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
                "metadata": {"name": "trend"},
                "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": fresh_uid(),
                         "suspend": True},
            }))  # fmt: skip
            nopod = eternal(control_plane, "logs", "trend", "-n", ns)
            assert nopod.returncode == 1
            assert f"engine {ns}/trend has no runtime pod" in nopod.stderr
            kubectl("create", "serviceaccount", "default", "-n", ns, check=False)
            kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "trend-runtime-x1",
                             "labels": {"trading.eternal-engine.io/engine": "trend"}},
                "spec": {"nodeName": node, "containers": [{"name": "runtime", "image": "x"}]},
            }))  # fmt: skip
            out = eternal(control_plane, "logs", "trend", "-n", ns, "--tail", "50")
            assert out.returncode == 0, out.stderr
            assert out.stdout == "runtime started\nhalt in force (sequence 3)\n"
            assert kubelet.requests == [
                f"/containerLogs/{ns}/trend-runtime-x1/runtime?tailLines=50"
            ]
        finally:
            kubectl("delete", "pod", "trend-runtime-x1", "-n", ns, "--grace-period=0", "--force",
                    check=False)  # fmt: skip
            kubectl("delete", "node", node, check=False)


def test_report_shows_today_from_the_status(control_plane: ControlPlane, ns: str) -> None:
    with governed(control_plane, ns, {"alpha": "600", "beta": "400"}):
        wait_for(lambda: policy_status(control_plane, ns).get("equity"), 30, "equity")

        def consistent() -> dict[str, Any] | None:
            out = eternal(control_plane, "report", "-n", ns, "-o", "json")
            assert out.returncode == 0, out.stderr
            report: dict[str, Any] = json.loads(out.stdout)
            equity = policy_status(control_plane, ns).get("equity")
            return report if report["portfolios"][0]["equity"] == equity else None

        report = wait_for(consistent, 30, "the report to show the policy's equity")
        assert report["source"] == "status"
        assert {e["name"]: e["equity"] for e in report["engines"]} == {
            "alpha": "600",
            "beta": "400",
        }
        (p,) = report["portfolios"]
        assert p["policy"] == "eternal"
        # the stand-ins report no dayPnl: the portfolio's is unknown, not a partial sum
        assert [e["dayPnl"] for e in report["engines"]] == [None, None]
        assert p["dayPnl"] is None
        assert p["engines"] == ["alpha", "beta"]
        past = eternal(control_plane, "report", "-n", ns, "--day", "2026-01-01")
        assert past.returncode == 1
        assert "needs the fleet's PostgreSQL" in past.stderr


def test_errors_are_one_sentence_for_missing_objects_forbidden_and_no_cluster(
    control_plane: ControlPlane, ns: str, tmp_path: Path
) -> None:
    missing = eternal(control_plane, "halt", "nope", "-n", ns)
    assert missing.returncode == 1
    assert missing.stderr.startswith(
        f"error: cannot patch CircuitBreakerPolicy {ns}/nope: not found"
    )

    # a ServiceAccount without any RBAC: forbidden
    control_plane.kubectl("create", "serviceaccount", "nobody", "-n", ns)
    token = control_plane.kubectl("create", "token", "nobody", "-n", ns).stdout.strip()
    admin = yaml.safe_load(control_plane.kubeconfig.read_text())
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    config["users"] = [{"name": "nobody", "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"] = {**context["context"], "user": "nobody", "namespace": ns}
    nobody = tmp_path / "nobody.kubeconfig"
    nobody.write_text(yaml.safe_dump(config))
    forbidden = run("status", "--kubeconfig", str(nobody))  # the context's namespace
    assert forbidden.returncode == 1
    assert forbidden.stderr.startswith("error: cannot list engines: forbidden")
    assert f'"system:serviceaccount:{ns}:nobody" cannot list resource "engines"' in forbidden.stderr
    assert "Traceback" not in forbidden.stderr
    assert token not in forbidden.stderr + forbidden.stdout

    # KUBECONFIG with several paths, merged; --context picks one and its namespace
    extra = tmp_path / "extra.kubeconfig"
    extra.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "down", "cluster": {"server": "https://127.0.0.1:1",
                                                   "insecure-skip-tls-verify": True}}],
        "users": [{"name": "down", "user": {"token": "x"}}],
        "contexts": [{"name": "down", "context": {"cluster": "down", "user": "down"}},
                     {"name": "kce-ns", "context": {"cluster": admin["clusters"][0]["name"],
                                                    "user": admin["users"][0]["name"],
                                                    "namespace": ns}}],
    }))  # fmt: skip
    merged = f"{tmp_path / 'absent'}{os.pathsep}{control_plane.kubeconfig}{os.pathsep}{extra}"
    in_ns = run("status", "--context", "kce-ns", env={"KUBECONFIG": merged})
    assert in_ns.returncode == 0, in_ns.stderr  # the admin, from the first file of the merge
    assert in_ns.stdout.startswith(f"Namespace {ns} on {control_plane.server}")
    down = run("status", "--context", "down", env={"KUBECONFIG": merged})
    assert down.returncode == 1
    assert down.stderr.startswith("error: cannot reach the API server at https://127.0.0.1:1")
    assert "Traceback" not in down.stderr
    nothing = run("status", env={"KUBECONFIG": str(tmp_path / "absent")})
    assert nothing.returncode == 1
    assert "no kubeconfig" in nothing.stderr
