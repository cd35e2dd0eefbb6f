"""What the runtime's Kubernetes access costs an idle runtime in memory; prints the figures.

    .venv/bin/python bench/kube_access_memory.py [REF]

Each line is a fresh interpreter's VmRSS (MiB, median of 3) after it imports what a live runtime
holds anyway (aiohttp, yaml: the baseline); then the hand-written client this replaced (taken
from `git show REF:engine_runtime/governance/{kube,kubeconfig}.py`, REF main by default) with its
access loaded; then the runtime's client now (lightkube's configuration in httpx2, requests over
aiohttp) with an HTTP client built. Both from the same kubeconfig (a token file, a cluster CA);
nothing is sent: the cost of holding the client.

Then a whole runtime, as tests/unit/runtime/test_rt_lean_imports.py starts one (entry module,
configuration, `Runtime(config)` with the benchmark's scripted strategy) with its Kubernetes
client built: REF's tree (`git archive`) against this one, in the same interpreter and
environment. That is the figure that counts: a runtime holds some of the client's dependencies
anyway. The machine is shared; treat the figures as rough.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE = "import aiohttp, yaml\n"
CLIENT = BASELINE + (
    "from engine_runtime.governance import kube, watcher\n"
    "from eternal_kernel.kube.kubeconfig import connect\n"
    "client = connect()\n"
)
OLD = BASELINE + (
    "import sys; sys.path.insert(0, {root!r})\n"
    "from old_governance import kube\n"
    "from old_governance.kubeconfig import load_access\n"
    "access = load_access()\n"
)
RUNTIME = (
    "import asyncio\n"
    "from engine_runtime.__main__ import keep_lean\n"
    "keep_lean()\n"
    "from engine_runtime.app.runtime import Runtime\n"
    "from engine_runtime.config import load_config\n"
    "from engine_runtime.governance.kube import EngineClient\n"
    "runtime = Runtime(load_config())\n"
    "async def opened() -> None:\n"
    "    EngineClient.from_environment('ns', 'e1').session()\n"
    "asyncio.run(opened())\n"
)
REPORT = "\nprint([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])\n"


def rss_mib(code: str, env: dict[str, str]) -> float:
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code + REPORT],
            env=env,
            cwd="/",  # not this tree ahead of PYTHONPATH's
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise SystemExit(f"{code}\nfailed: {out.stderr}")
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
        tree = Path(scratch) / "tree"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", ref], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        runtime_env = runtime_environment(Path(scratch), env)
        whole = {
            where: rss_mib(
                RUNTIME, {**runtime_env, "PYTHONPATH": f"{root}/tests:{root}/operator:{root}"}
            )
            for where, root in ((ref, tree), ("now", repo))
        }
    print(f"baseline (aiohttp, yaml)                {base:6.1f} MiB")
    print(f"+ hand-written client ({ref}, aiohttp)   {before:6.1f} MiB  (+{before - base:.1f})")
    print(f"+ lightkube client (httpx2 on aiohttp) {held:6.1f} MiB  (+{held - base:.1f})")
    print(f"a whole runtime, {ref}'s tree          {whole[ref]:6.1f} MiB")
    print(f"a whole runtime, this tree            {whole['now']:6.1f} MiB  "
          f"(+{whole['now'] - whole[ref]:.1f})")  # fmt: skip


def runtime_environment(scratch: Path, env: dict[str, str]) -> dict[str, str]:
    """What `python -m engine_runtime` reads (nothing is reached: the addresses are closed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.runtime import engine_json

    config = engine_json("e1", "ns", "http://127.0.0.1:1", params={}, symbols=["BTCUSDT"],
                         health_port=8081, metrics_port=9100, strategy="trend")  # fmt: skip
    (scratch / "engine.json").write_text(json.dumps(config))
    return {
        **env,
        "EE_CONFIG_PATH": str(scratch / "engine.json"),
        "EE_ENGINE_NAME": "e1",
        "EE_ENGINE_NAMESPACE": "ns",
        "EE_DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
        "EE_REDIS_URL": "redis://127.0.0.1:1",
        "BYBIT_API_KEY": "KEY12345",
        "BYBIT_API_SECRET": "SECRET12345",
        "EE_STRATEGY_FACTORY": "support.scripted_strategy:create",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


if __name__ == "__main__":
    main()
