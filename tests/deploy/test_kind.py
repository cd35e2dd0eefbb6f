"""`make kind-up` (scripts/kind-up.sh) and `make kind-down`: what can be checked without Docker.

- shellcheck passes on the scripts;
- deploy/kind/cluster.yaml decodes with kind's own v1alpha4 types, strictly, as `kind create
  cluster --config` decodes it (tests/tools/kindconfig, kind pinned in its go.mod);
- the script end to end against a fresh, empty kube-apiserver (as `kind create cluster` leaves
  one): the real pinned helm installs both charts and the real kubectl applies the sample fleet.
  `docker` and `kind` are stand-ins that only record how they were called (no Docker daemon
  here), so those calls are asserted argument by argument;
- its waits are bounded, its errors name the missing tool.

Not exercised here: a real kind cluster, a real image build and load, pods running.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.tooling import REPO, kubectl_binary
from eternal_operator.devtools import stack
from eternal_operator.devtools.controlplane import ControlPlane

UP = REPO / "scripts" / "kind-up.sh"
DOWN = REPO / "scripts" / "kind-down.sh"
KIND_CONFIG = REPO / "deploy" / "kind" / "cluster.yaml"
KINDCONFIG_BUILD = REPO / "tests" / "tools" / "kindconfig" / "build.sh"
CLUSTER = "eternal-engine"
CONTEXT = f"kind-{CLUSTER}"
IMAGE_ID = "sha256:" + "0123456789ab" + "c" * 52
IMAGE = "eternal-engine/eternal-engine:kind-0123456789ab"

# A stand-in for `docker` and `kind` (by its own name): appends its argv as one JSON line to
# $STANDIN_LOG and acts just enough for the script to go on. The clusters kind "has" live in
# $STANDIN_STATE, one name a line.
STANDIN = f"""#!{sys.executable}
import json, os, sys
from pathlib import Path
tool, args = Path(sys.argv[0]).name, sys.argv[1:]
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps([tool, *args]) + "\\n")
state = Path(os.environ["STANDIN_STATE"])
clusters = state.read_text().split() if state.exists() else []
if tool == "docker" and args[:1] == ["info"]:
    sys.exit(int(os.environ.get("STANDIN_DOCKER_DOWN", "0")))
if tool == "docker" and args[:1] == ["build"]:
    Path(args[args.index("--iidfile") + 1]).write_text("{IMAGE_ID}")
if tool == "kind" and args[:2] == ["get", "clusters"]:
    print("\\n".join(clusters))
if tool == "kind" and args[:2] == ["create", "cluster"]:
    state.write_text("\\n".join([*clusters, args[args.index("--name") + 1]]))
if tool == "kind" and args[:2] == ["delete", "cluster"]:
    name = args[args.index("--name") + 1]
    state.write_text("\\n".join(c for c in clusters if c != name))
"""


def standins(tmp: Path, *tools: str) -> Path:
    """A bin folder with the stand-ins and kubectl (the script needs it on PATH)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        path = bin_dir / tool
        path.write_text(STANDIN)
        path.chmod(0o755)
    kubectl = bin_dir / "kubectl"
    if not kubectl.exists():
        kubectl.symlink_to(kubectl_binary())
    return bin_dir


def calls(tmp: Path) -> list[list[str]]:
    log = tmp / "standin.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def run_script(
    script: Path, tmp: Path, env: dict[str, str], *args: str, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "STANDIN_LOG": str(tmp / "standin.log"),
        "STANDIN_STATE": str(tmp / "standin.state"),
        "PATH": path if path is not None else f"{tmp / 'bin'}:{os.environ['PATH']}",
        **env,
    }
    for name in ("KUBECONFIG", "HELM", "KIND_UP_IMAGE", "KIND_UP_SKIP_CLUSTER", "KIND_UP_WAIT"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run(
        ["bash", str(script), *args],
        env=full,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )


# -- static checks ------------------------------------------------------------------------------


def shellcheck(*paths: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "shellcheck"
    return subprocess.run(
        [str(binary), "--severity=info", "-x", "--source-path=SCRIPTDIR", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.unit
def test_shellcheck_passes_on_every_shell_script() -> None:
    """Every shell script the project tracks (kind's, the bootstrap, CI's, the build scripts)."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.sh", ".ci/run"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    scripts = [REPO / p for p in tracked]
    assert {UP, DOWN, KINDCONFIG_BUILD, REPO / ".ci/run"} <= set(scripts)
    result = shellcheck(*scripts)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.unit
def test_shellcheck_finds_faults(tmp_path: Path) -> None:
    """The check itself works: an unquoted expansion is reported."""
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nfile=$1\nrm $file\n")
    result = shellcheck(bad)
    assert result.returncode == 1
    assert "SC2086" in result.stdout


@pytest.fixture(scope="module")
def kindconfig() -> str:
    """kind's own config decoder (tests/tools/kindconfig), built on first use and cached."""
    result = subprocess.run(
        ["bash", str(KINDCONFIG_BUILD)], stdout=subprocess.PIPE, text=True, check=False
    )
    assert result.returncode == 0, f"building kindconfig failed; run {KINDCONFIG_BUILD}"
    return result.stdout.strip().splitlines()[-1]


def decode(kindconfig: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([kindconfig, str(path)], capture_output=True, text=True, check=False)


@pytest.mark.unit
def test_kind_config_is_what_kind_reads(kindconfig: str) -> None:
    result = decode(kindconfig, KIND_CONFIG)
    assert result.returncode == 0, result.stderr
    cluster: dict[str, Any] = json.loads(result.stdout)
    assert cluster["name"] == CLUSTER
    assert [node["role"] for node in cluster["nodes"]] == ["control-plane"]
    # kind's default node image for the pinned kind: Kubernetes >= 1.30 (admission policies)
    image = cluster["nodes"][0]["image"]
    assert image.startswith("kindest/node:v1.")
    assert int(image.split(":v1.")[1].split(".")[0]) >= 30
    # the script's default cluster name is the config's
    assert f"KIND_CLUSTER_NAME:-{CLUSTER}}}" in UP.read_text()
    assert f"KIND_CLUSTER_NAME:-{CLUSTER}}}" in DOWN.read_text()


@pytest.mark.unit
def test_kind_config_decoding_is_strict(kindconfig: str, tmp_path: Path) -> None:
    """The check itself works: a misspelt field or a wrong apiVersion is refused."""
    config = yaml.safe_load(KIND_CONFIG.read_text())
    config["nodes"][0]["lables"] = {"a": "b"}
    bad = tmp_path / "misspelt.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = decode(kindconfig, bad)
    assert result.returncode == 1
    assert "field lables not found in type v1alpha4.Node" in result.stderr
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(KIND_CONFIG.read_text().replace("v1alpha4", "v1alpha3"))
    result = decode(kindconfig, wrong)
    assert result.returncode == 1
    assert "want kind.x-k8s.io/v1alpha4 Cluster" in result.stderr


# -- missing tools --------------------------------------------------------------------------------


def minimal_path(tmp: Path) -> str:
    """A PATH with bash, dirname and what `standins` put in tmp/bin: no docker, no kind."""
    base = tmp / "base"
    base.mkdir(exist_ok=True)
    for tool in ("bash", "dirname"):
        if (base / tool).exists():
            continue
        (base / tool).symlink_to(
            subprocess.run(
                ["bash", "-c", f"command -v {tool}"], capture_output=True, text=True
            ).stdout.strip()
        )
    return f"{tmp / 'bin'}:{base}"


@pytest.mark.unit
def test_missing_docker_is_named(tmp_path: Path) -> None:
    standins(tmp_path)
    result = run_script(UP, tmp_path, {}, path=minimal_path(tmp_path))
    assert result.returncode == 1
    assert "kind-up: error: docker is not on PATH: install Docker" in result.stderr
    assert result.stdout == "==> [1] checking the tools\n"


@pytest.mark.unit
def test_missing_kind_is_named(tmp_path: Path) -> None:
    standins(tmp_path, "docker")
    result = run_script(UP, tmp_path, {}, path=minimal_path(tmp_path))
    assert result.returncode == 1
    assert "kind-up: error: kind is not on PATH: install kind" in result.stderr
    result = run_script(DOWN, tmp_path, {}, path=minimal_path(tmp_path))
    assert result.returncode == 1
    assert "kind-down: error: kind is not on PATH" in result.stderr


@pytest.mark.unit
def test_missing_kubectl_is_named(tmp_path: Path) -> None:
    standins(tmp_path, "docker", "kind")
    (tmp_path / "bin" / "kubectl").unlink()
    result = run_script(UP, tmp_path, {}, path=minimal_path(tmp_path))
    assert result.returncode == 1
    assert "kind-up: error: kubectl is not on PATH" in result.stderr


@pytest.mark.unit
def test_a_docker_without_daemon_is_named(tmp_path: Path, helm_bin: str) -> None:
    standins(tmp_path, "docker", "kind")
    env = {"HELM": helm_bin, "STANDIN_DOCKER_DOWN": "1"}
    result = run_script(UP, tmp_path, env)
    assert result.returncode == 1
    assert "docker cannot reach its daemon (is Docker running" in result.stderr
    assert calls(tmp_path) == [["docker", "info"]]  # nothing else was tried


@pytest.mark.unit
def test_skip_cluster_needs_an_image(tmp_path: Path, helm_bin: str) -> None:
    standins(tmp_path)
    result = run_script(UP, tmp_path, {"HELM": helm_bin, "KIND_UP_SKIP_CLUSTER": "1"})
    assert result.returncode == 1
    assert "KIND_UP_SKIP_CLUSTER=1 needs KIND_UP_IMAGE=repository:tag" in result.stderr
    env = {"HELM": helm_bin, "KIND_UP_SKIP_CLUSTER": "1", "KIND_UP_IMAGE": "no-tag"}
    result = run_script(UP, tmp_path, env)
    assert result.returncode == 1
    assert "KIND_UP_IMAGE=no-tag: want repository:tag" in result.stderr


# -- kind-down -------------------------------------------------------------------------------------


@pytest.mark.unit
def test_kind_down_deletes_the_cluster_once(tmp_path: Path) -> None:
    standins(tmp_path, "kind")
    (tmp_path / "standin.state").write_text(f"other\n{CLUSTER}\n")
    result = run_script(DOWN, tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path) == [
        ["kind", "get", "clusters"],
        ["kind", "delete", "cluster", "--name", CLUSTER],
    ]
    assert (tmp_path / "standin.state").read_text().split() == ["other"]
    result = run_script(DOWN, tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert f"no kind cluster {CLUSTER}: nothing to delete" in result.stdout
    assert calls(tmp_path)[-1] == ["kind", "get", "clusters"]


# -- end to end against an empty API server -------------------------------------------------------


@pytest.fixture(scope="module")
def empty_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A fresh kube-apiserver with nothing of ours in it, as `kind create cluster` leaves one
    (the session's control plane already has the CRDs and admission policies, outside helm)."""
    with ControlPlane(data_dir=Path(tmp_path_factory.mktemp("kindplane"))) as plane:
        yield plane


def kind_kubeconfig(plane: ControlPlane, path: Path) -> Path:
    """The plane's kubeconfig with its context renamed kind-<cluster>, as kind names it, and a
    current context that reaches nothing: a step that forgets `--context` fails."""
    config = yaml.safe_load(plane.kubeconfig.read_text())
    config["contexts"][0]["name"] = CONTEXT
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}})
    config["contexts"].append(
        {"name": "nowhere", "context": {"cluster": "nowhere", "user": "eternal-admin"}}
    )
    config["current-context"] = "nowhere"
    path.write_text(yaml.safe_dump(config))
    return path


def get(plane: ControlPlane, *args: str) -> Any:
    return json.loads(plane.kubectl("get", *args, "-o", "json").stdout)


@pytest.mark.cluster
def test_kind_up_end_to_end(empty_cluster: ControlPlane, tmp_path: Path, helm_bin: str) -> None:
    plane = empty_cluster
    standins(tmp_path, "docker", "kind")
    env = {"KUBECONFIG": str(kind_kubeconfig(plane, tmp_path / "kubeconfig")), "KIND_UP_WAIT": "0"}

    # 1. a new cluster: created, image built, tagged by its ID and loaded; charts, samples
    result = run_script(UP, tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = calls(tmp_path)
    build = next(c for c in recorded if c[:2] == ["docker", "build"])
    revision = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert build[2] == "--iidfile"
    assert build[4:7] == ["--build-arg", f"REVISION={revision}", "--build-arg"]
    assert build[7].startswith("CREATED=")
    assert build[8:] == ["-t", "eternal-engine/eternal-engine:kind", str(REPO)]
    assert recorded == [
        ["docker", "info"],
        ["kind", "get", "clusters"],
        ["kind", "create", "cluster", "--name", CLUSTER, "--config", str(KIND_CONFIG),
         "--wait", "300s"],
        ["kind", "export", "kubeconfig", "--name", CLUSTER],
        build,
        ["docker", "tag", "eternal-engine/eternal-engine:kind", IMAGE],
        ["kind", "load", "docker-image", IMAGE, "--name", CLUSTER],
    ]  # fmt: skip
    out = result.stdout
    for line in (
        f"creating kind cluster {CLUSTER} from deploy/kind/cluster.yaml",
        f"loading {IMAGE} into kind cluster {CLUSTER}",
        "installing the CRDs (chart eternal-engine-crds)",
        "not waiting for the Deployments to roll out (KIND_UP_WAIT=0)",
        "applying the sample fleet (manifests/samples)",
    ):
        assert line in out
    # the same lines as `make up` prints, from the one file
    assert f"  kubectl config use-context {CONTEXT}\n{stack.try_it()}" in out
    assert "kubectl patch cbp eternal" in stack.try_it()

    # what the API server now holds: the charts' objects and the sample fleet
    crds = get(plane, "crd", "-l", "app.kubernetes.io/managed-by=Helm")["items"]
    assert len(crds) == 5  # Engine, Allocation, CircuitBreakerPolicy, ModelTraining, Backtest
    assert {c["metadata"]["annotations"]["meta.helm.sh/release-name"] for c in crds} == {
        "eternal-engine-crds"
    }
    deployments = {
        d["metadata"]["name"]: d for d in get(plane, "deploy", "-n", "eternal-system")["items"]
    }
    assert set(deployments) == {"eternal-operator", "eternal-paper-venue"}
    for deployment in deployments.values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == IMAGE
        assert container["imagePullPolicy"] == "Never"
    operator = deployments["eternal-operator"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "EE_OPERATOR_IMAGE_PULL_POLICY", "value": "Never"} in operator["env"]
    engines = get(plane, "engines", "-n", "default")["items"]
    assert sorted(e["metadata"]["name"] for e in engines) == [
        "core-hodl",
        "funding",
        "tactical",
        "trend",
    ]
    assert get(plane, "cbp", "eternal", "-n", "default")["metadata"]["name"] == "eternal"
    generation = deployments["eternal-operator"]["metadata"]["generation"]

    # 2. again: the cluster is reused, the releases upgraded in place, nothing rolls out
    result = run_script(UP, tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"reusing kind cluster {CLUSTER}" in result.stdout
    assert not [c for c in calls(tmp_path) if c[:2] == ["kind", "create"]][1:]
    assert sum(c[:2] == ["kind", "create"] for c in calls(tmp_path)) == 1
    assert sum(c[:3] == ["kind", "load", "docker-image"] for c in calls(tmp_path)) == 2
    status = subprocess.run(
        [helm_bin, "status", "eternal", "-n", "eternal-system", "-o", "json"],
        env={**os.environ, "KUBECONFIG": env["KUBECONFIG"], "HELM_KUBECONTEXT": CONTEXT},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(status.stdout)["version"] == 2
    again = get(plane, "deploy", "eternal-operator", "-n", "eternal-system")
    assert again["metadata"]["generation"] == generation


@pytest.mark.cluster
def test_kind_up_on_an_existing_cluster_waits_a_bounded_time(
    empty_cluster: ControlPlane, tmp_path: Path, helm_bin: str
) -> None:
    """KIND_UP_SKIP_CLUSTER=1: no docker, no kind; KUBECONFIG's current context and a given
    image. This API server has no controllers and no kubelet, so nothing rolls out: the wait
    gives up after KIND_UP_TIMEOUT with a clear error, after the releases were upgraded."""
    plane = empty_cluster
    standins(tmp_path, "docker", "kind")
    release = f"r{secrets.token_hex(3)}"
    namespace = f"kind-{secrets.token_hex(3)}"
    env = {
        "KUBECONFIG": str(plane.kubeconfig),
        "KIND_UP_SKIP_CLUSTER": "1",
        "KIND_UP_IMAGE": "registry.example:5000/ee/eternal-engine:test",
        "KIND_UP_TIMEOUT": "3s",
        "KIND_UP_RELEASE": release,
        "KIND_UP_NAMESPACE": namespace,
        "HELM": helm_bin,
    }
    # extra arguments go to the operator chart's helm upgrade
    start = time.monotonic()
    result = run_script(
        UP, tmp_path, env, "--set", "operator.logLevel=DEBUG", "--set", "admission.enabled=false"
    )
    elapsed = time.monotonic() - start
    assert result.returncode == 1, result.stdout + result.stderr
    assert calls(tmp_path) == []  # neither docker nor kind
    assert (
        "using the existing cluster of context eternal-local (KIND_UP_SKIP_CLUSTER=1)"
        in result.stdout
    )
    assert "waiting for the Deployments to roll out (at most 3s each)" in result.stdout
    assert f"deployment.apps/{release}-operator did not roll out within 3s" in result.stderr
    assert "applying the sample fleet" not in result.stdout
    assert elapsed < 90
    deployment = get(plane, "deploy", f"{release}-operator", "-n", namespace)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example:5000/ee/eternal-engine:test"
    selector = f"app.kubernetes.io/instance={release}"
    settings = get(plane, "configmap", "-n", namespace, "-l", selector)["items"]
    assert [cm["data"]["EE_OPERATOR_LOG_LEVEL"] for cm in settings] == ["DEBUG"]
