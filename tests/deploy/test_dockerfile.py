"""The Dockerfile: hadolint-clean, multi-stage, non-root, no build tools in the final stage,
and installing with exactly the commands CI runs (`make install`), so a broken dependency
breaks CI before it breaks an image build."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy.tooling import OPERATOR_CHART, REPO

pytestmark = pytest.mark.unit

DOCKERFILE = REPO / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(DOCKERFILE.read_text()):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_non_root_and_lean() -> None:
    build, runtime = stages()
    assert build[0][1].endswith("AS build")
    assert runtime[0][1].endswith("AS runtime")
    users = [args for word, args in runtime if word == "USER"]
    assert users == ["10001:10001"]
    values = yaml.safe_load((OPERATOR_CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == 10001
    runtime_runs = " ".join(args for word, args in runtime if word == "RUN")
    for tool in ("uv ", "pip install", "apt-get", "gcc", "build-essential"):
        assert tool not in runtime_runs, tool
    copies = [args for word, args in runtime if word == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"]


def test_oci_labels() -> None:
    labels = " ".join(args for word, args in stages()[-1] if word == "LABEL")
    for key in ("title", "description", "version", "revision", "created", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels, key


def test_install_steps_are_the_ci_commands() -> None:
    """The image installs like `make install`: the lock first, then the project without deps."""
    runs = [args for word, args in stages()[0] if word == "RUN"]
    image = [re.sub(r" --python \S+", "", c.strip()) for r in runs for c in r.split("&&")]
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    ci = [
        re.sub(r" --python \S+| -q", "", line.strip().replace("$(UV)", "uv"))
        for line in recipe.splitlines()
        if "$(UV) pip install" in line
    ]
    assert ci == ["uv pip install -r requirements.lock", "uv pip install --no-deps -e ."]
    assert "uv pip install -r requirements.lock" in image
    # the same, but a real install instead of an editable one
    assert "uv pip install --no-deps ." in image
    uv_pin = re.search(r"uv==([0-9.]+)", " ".join(runs))
    assert uv_pin, "pin uv in the image"


def test_dockerignore_keeps_the_context_small_and_complete() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignore, "deny by default, then allow what the Dockerfile copies"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, args in stages()[0]:
        if word == "COPY":
            for source in args.split()[:-1]:
                assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"
                assert (REPO / source).exists(), source
    assert not {".venv", ".git", ".local", "tests", "terraform"} & allowed


def test_prune_keeps_the_runtime_closure_and_drops_dev_tools() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "prune_venv.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr  # every runtime requirement is installed
    removed = set(result.stdout.split())
    assert {"pytest", "ruff", "mypy", "checkov"} <= removed
    assert not {"kopf", "lightkube", "pybit", "asyncpg", "aiohttp", "eternal-engine"} & removed
    assert "xgboost-cpu" not in removed  # the model extra: the meta-trend runtime needs it


@pytest.mark.parametrize("module", ["eternal_operator", "engine_runtime", "paper_venue"])
def test_entry_points_exist(module: str) -> None:
    """The image runs `python -m` each of them: each has its `__main__`."""
    assert importlib.util.find_spec(module) is not None
    assert importlib.util.find_spec(f"{module}.__main__") is not None
