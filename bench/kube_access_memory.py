"""What the runtime's Kubernetes access costs an idle runtime in memory; prints the figures.

    .venv/bin/python bench/kube_access_memory.py [REF]

Each line is a fresh interpreter's VmRSS (MiB, median of 3) after it imports what a live runtime
holds anyway (aiohttp, yaml: the baseline); then the hand-written client this replaced (taken
from `git show REF:engine_runtime/governance/{kube,kubeconfig}.py`, REF main by default) with its
access loaded; then the runtime's client now (lightkube's configuration on httpx2) with an HTTP
client built. Both from the same kubeconfig (a token file); nothing is sent: the cost of holding
the client. The machine is shared; treat the figures as rough.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE = "import aiohttp, yaml\n"
CLIENT = BASELINE + (
    "from engine_runtime.governance import kube, watcher\n"
    "from engine_runtime.governance.kubeconfig import connect\n"
    "client = connect()\n"
)
OLD = BASELINE + (
    "import sys; sys.path.insert(0, {root!r})\n"
    "from old_governance import kube\n"
    "from old_governance.kubeconfig import load_access\n"
    "access = load_access()\n"
)
REPORT = "\nprint([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])\n"


def rss_mib(code: str, env: dict[str, str]) -> float:
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code + REPORT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(int(out.stdout.split()[-1]) / 1024)
    return statistics.median(runs)


def main() -> None:
    ref = sys.argv[1] if len(sys.argv) > 1 else "main"
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as scratch:
        old = Path(scratch) / "old_governance"
        old.mkdir()
        (old / "__init__.py").write_text("")
        for name in ("kube.py", "kubeconfig.py"):
            source = subprocess.run(
                ["git", "-C", str(repo), "show", f"{ref}:engine_runtime/governance/{name}"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            (old / name).write_text(source)
        token = Path(scratch) / "token"
        token.write_text("not-sent\n")
        ca = Path(scratch) / "ca.crt"  # a cluster CA, as a pod's service account has
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-subj", "/CN=bench", "-days", "1", "-keyout", str(Path(scratch) / "ca.key"),
             "-out", str(ca)],
            check=True, capture_output=True,
        )  # fmt: skip
        config = Path(scratch) / "config"
        config.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
            "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443', "
            f"certificate-authority: '{ca}'}}}}]\n"
            f"users: [{{name: u, user: {{tokenFile: '{token}'}}}}]\n"
        )
        env = {"KUBECONFIG": str(config), "PATH": "/usr/bin:/bin"}
        base = rss_mib(BASELINE, env)
        before = rss_mib(OLD.format(root=scratch), env)
        held = rss_mib(CLIENT, env)
    print(f"baseline (aiohttp, yaml)                {base:6.1f} MiB")
    print(f"+ hand-written client ({ref}, aiohttp)   {before:6.1f} MiB  (+{before - base:.1f})")
    print(f"+ lightkube client (httpx2)            {held:6.1f} MiB  (+{held - base:.1f})")


if __name__ == "__main__":
    main()
