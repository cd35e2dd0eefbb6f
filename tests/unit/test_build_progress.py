"""The Go build scripts' progress lines, run with a stand-in `go` (no minutes of compiling):
a line per step with its estimate, its duration when done, one "reusing" line when cached, and
a cache key that rewording a progress line leaves alone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

TOOLS = Path(__file__).resolve().parents[1] / "tools"
FAKE_GO = """#!/usr/bin/env bash
case "$1" in
  list) echo v0.34.1 ;;
  build) while [[ $# -gt 0 ]]; do [[ $1 == -o ]] && { printf '#!/bin/sh\\n' > "$2"; chmod +x "$2"; }; shift; done ;;
esac
"""  # noqa: E501


def run(script: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "go").write_text(FAKE_GO)
    (bin_dir / "go").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "EE_CACHE_DIR": str(tmp)}
    env.pop("EE_HELM", None)
    env.pop("KUBEBUILDER_ASSETS", None)
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                          check=True)  # fmt: skip


def test_helm_build_prints_its_steps_then_reuses_quietly(tmp_path: Path) -> None:
    cold = run(TOOLS / "helm" / "build.sh", tmp_path)
    lines = cold.stderr.splitlines()
    assert lines[0].startswith("helm: cold build into ")
    assert lines[1].startswith("helm: building helm v")
    assert lines[1].endswith("(Kubernetes 1.34) (about 3 min)...")
    assert lines[2].startswith("helm: built helm v")
    assert re.search(r" in 0m\d+s$", lines[2])
    binary = cold.stdout.splitlines()[-1]
    assert os.access(binary, os.X_OK)
    warm = run(TOOLS / "helm" / "build.sh", tmp_path)
    assert warm.stderr.splitlines() == [f"helm: reusing {binary}"]
    assert warm.stdout.splitlines()[-1] == binary


def test_controlplane_build_prints_a_line_per_binary(tmp_path: Path) -> None:
    cold = run(TOOLS / "controlplane" / "build.sh", tmp_path)
    starts = [line for line in cold.stderr.splitlines() if ": building " in line]
    dones = [line for line in cold.stderr.splitlines() if ": built " in line]
    assert [s.split(": building ")[1].split(" ")[0] for s in starts][:3] == [
        "etcd", "kube-apiserver", "kube-controller-manager"
    ]  # fmt: skip
    assert "(about 3 min)..." in starts[1]
    assert len(dones) == len(starts)
    assert cold.stderr.splitlines()[-1].startswith("controlplane: control plane built in ")
    warm = run(TOOLS / "controlplane" / "build.sh", tmp_path)
    assert len(warm.stderr.splitlines()) == 1
    assert warm.stderr.startswith("controlplane: reusing ")


def test_rewording_progress_keeps_the_cache_key(tmp_path: Path) -> None:
    copy = tmp_path / "tools"
    shutil.copytree(TOOLS / "helm", copy / "helm", ignore=shutil.ignore_patterns("*.sum.bak"))
    shutil.copy(TOOLS / "progress.sh", copy / "progress.sh")
    first = run(copy / "helm" / "build.sh", tmp_path).stdout.splitlines()[-1]
    script = copy / "helm" / "build.sh"
    script.write_text(script.read_text().replace('log "cold build into', 'log "compiling into'))
    assert run(script, tmp_path).stdout.splitlines()[-1] == first
    script.write_text(script.read_text().replace("-trimpath", "-trimpath -v"))
    assert run(script, tmp_path).stdout.splitlines()[-1] != first
