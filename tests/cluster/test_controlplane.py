"""The control-plane harness itself: real versions, clean stops, no orphans, persistence, GC."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eternal_operator.devtools.controlplane import ControlPlane, ControlPlaneError
from support.processes import alive

pytestmark = pytest.mark.cluster


def wait_until(predicate: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_server_reports_its_real_version(control_plane: ControlPlane) -> None:
    version = json.loads(control_plane.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert version["gitVersion"].startswith("v1.34.")
    assert version["major"] == "1"
    assert version["minor"] == "34"


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    plane = ControlPlane(data_dir=tmp_path)
    plane.start()
    pids = [proc.pid for proc in plane._procs.values()]
    assert len(pids) >= 2
    assert all(alive(pid) for pid in pids)

    plane.stop()

    assert not any(alive(pid) for pid in pids)


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time, pathlib\n"
        "from eternal_operator.devtools.controlplane import ControlPlane\n"
        "p = ControlPlane(data_dir=pathlib.Path(sys.argv[1]))\n"
        "p.start()\n"
        "print(' '.join(str(c.pid) for c in p._procs.values()), flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert pids
        assert all(alive(pid) for pid in pids)

        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)

        assert wait_until(lambda: not any(alive(pid) for pid in pids))
    finally:
        parent.kill()


def test_port_in_use_says_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        plane = ControlPlane(data_dir=tmp_path, apiserver_port=port)
        with pytest.raises(ControlPlaneError, match=f"port {port} is already in use.*--port"):
            plane.start()


def test_data_survives_a_restart(tmp_path: Path) -> None:
    with ControlPlane(data_dir=tmp_path, ephemeral=False) as plane:
        plane.kubectl("create", "configmap", "kept", "--from-literal=answer=42")
    with ControlPlane(data_dir=tmp_path, ephemeral=False) as plane:
        out = plane.kubectl("get", "configmap", "kept", "-o", "jsonpath={.data.answer}").stdout
    assert out == "42"


def test_owned_objects_are_garbage_collected(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.kubectl(
        "create", "-n", namespace, "-f", "-",
        input=json.dumps({
            "apiVersion": "trading.eternal-engine.io/v1alpha1",
            "kind": "Engine",
            "metadata": {"name": "owner"},
            "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": "100042"},
        }),
    )  # fmt: skip
    uid = control_plane.kubectl(
        "get", "engine", "owner", "-n", namespace, "-o", "jsonpath={.metadata.uid}"
    ).stdout
    owned = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "owned",
            "ownerReferences": [
                {
                    "apiVersion": "trading.eternal-engine.io/v1alpha1",
                    "kind": "Engine",
                    "name": "owner",
                    "uid": uid,
                    "controller": True,
                }
            ],
        },
    }
    control_plane.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(owned))

    control_plane.kubectl("delete", "engine", "owner", "-n", namespace)

    def configmap_gone() -> bool:
        got = control_plane.kubectl("get", "configmap", "owned", "-n", namespace, check=False)
        return got.returncode != 0 and "NotFound" in got.stderr

    assert wait_until(configmap_gone, timeout=30)
