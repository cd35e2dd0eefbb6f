"""terraform/: formatted, parsed by an HCL parser, statically checked by checkov with no
failure (every skip justified), module calls consistent with the modules' interfaces (what
`terraform validate` would check, without provider downloads), typed and documented variables,
encryption at rest and no public endpoint by default."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from deploy.tooling import TERRAFORM

pytestmark = pytest.mark.unit

MODULES = TERRAFORM / "modules"
ENVIRONMENTS = TERRAFORM / "environments"
META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}


@cache
def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        parsed: dict[str, Any] = hcl2.load(handle)
        return parsed


def blocks(folder: Path, kind: str) -> dict[str, dict[str, Any]]:
    """name -> body of every `kind` block (variable, output, module, ...) in a folder."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.tf")):
        for block in parse(path).get(kind, []):
            out.update(block)
    return out


def resources(folder: Path, rtype: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted(folder.glob("*.tf")):
        for block in parse(path).get("resource", []):
            for body in block.get(rtype, {}).values():
                found.append(body)
    return found


def first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


ALL_FOLDERS = sorted(p for p in [*MODULES.iterdir(), *ENVIRONMENTS.iterdir()] if p.is_dir())


def test_layout() -> None:
    assert {p.name for p in MODULES.iterdir()} >= {
        "network",
        "eks",
        "postgres",
        "redis",
        "secrets",
        "kms",
    }
    assert {p.name for p in ENVIRONMENTS.iterdir()} == {"dev", "prod"}
    for folder in ALL_FOLDERS:
        assert (folder / "versions.tf").is_file(), folder


@pytest.mark.parametrize("folder", ALL_FOLDERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_file_parses_and_every_interface_is_typed_and_documented(folder: Path) -> None:
    for path in folder.glob("*.tf"):
        parse(path)  # raises on a syntax error
    for name, body in blocks(folder, "variable").items():
        assert first(body.get("description")), f"{folder.name}: variable {name} has no description"
        assert body.get("type"), f"{folder.name}: variable {name} has no type"
    for name, body in blocks(folder, "output").items():
        assert first(body.get("description")), f"{folder.name}: output {name} has no description"


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS.iterdir()), ids=lambda p: p.name)
def test_module_calls_match_the_modules(env: Path) -> None:
    calls = blocks(env, "module")
    assert set(calls) == {"kms", "network", "eks", "postgres", "redis", "secrets"}
    text = "\n".join(p.read_text() for p in env.glob("*.tf"))
    for name, call in calls.items():
        module_dir = (env / first(call["source"])).resolve()
        variables = blocks(module_dir, "variable")
        given = {k for k in call if not k.startswith("__")} - META_ARGUMENTS
        assert given <= set(variables), (
            f"{env.name}: module.{name} has no input {given - set(variables)}"
        )
        required = {v for v, body in variables.items() if "default" not in body}
        assert required <= given, f"{env.name}: module.{name} misses {required - given}"
        outputs = blocks(module_dir, "output")
        for used in re.findall(rf"module\.{name}\.([a-z_]+)", text):
            assert used in outputs, f"{env.name}: module.{name} has no output {used}"


def test_no_public_endpoint_by_default() -> None:
    eks = blocks(MODULES / "eks", "variable")
    assert first(eks["endpoint_public_access"]["default"]) is False
    for env in ENVIRONMENTS.iterdir():
        assert first(blocks(env, "variable")["endpoint_public_access"]["default"]) is False
    for db in resources(MODULES / "postgres", "aws_db_instance"):
        assert first(db["publicly_accessible"]) is False
    for subnet in resources(MODULES / "network", "aws_subnet"):
        assert first(subnet.get("map_public_ip_on_launch", [False])) is False
    everything = "\n".join(p.read_text() for p in TERRAFORM.rglob("*.tf"))
    assert "cidr_ipv4" not in everything  # ingress is only ever from security groups
    assert not re.search(r"ingress[^}]*0\.0\.0\.0/0", everything, re.S)


def test_encryption_at_rest() -> None:
    for db in resources(MODULES / "postgres", "aws_db_instance"):
        assert first(db["storage_encrypted"]) is True
        assert db["kms_key_id"]
    for rg in resources(MODULES / "redis", "aws_elasticache_replication_group"):
        assert first(rg["at_rest_encryption_enabled"]) is True
        assert rg["kms_key_id"]
        assert first(rg["transit_encryption_enabled"]) is True
    (cluster,) = resources(MODULES / "eks", "aws_eks_cluster")
    assert first(first(cluster["encryption_config"])["resources"]) == ["secrets"]
    for folder in MODULES.iterdir():
        for group in resources(folder, "aws_cloudwatch_log_group"):
            assert group.get("kms_key_id"), f"unencrypted log group in {folder.name}"
        for secret in resources(folder, "aws_secretsmanager_secret"):
            assert secret.get("kms_key_id"), f"secret without a customer key in {folder.name}"
    (key,) = resources(MODULES / "kms", "aws_kms_key")
    assert first(key["enable_key_rotation"]) is True


def checkov_binary() -> str:
    return shutil.which("checkov") or str(Path(sys.executable).parent / "checkov")


def test_checkov_finds_nothing() -> None:
    # --skip-download: no call to the vendor's platform (no network here, none wanted in CI)
    result = subprocess.run(
        [
            checkov_binary(),
            "-d",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--compact",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"},
    )
    report = json.loads(result.stdout)
    failed = [
        (c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 150  # it really scanned the modules
    for skip in report["results"]["skipped_checks"]:
        reason = skip["check_result"].get("suppress_comment", "")
        assert len(reason) > 20, f"{skip['check_id']} skipped without a reason"


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip(
            "no terraform binary on PATH: no registry package ships it, so `terraform fmt "
            "-check` runs only where it is installed; the HCL parser and checkov always run"
        )
    result = subprocess.run(
        [terraform, "fmt", "-recursive", "-check", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
