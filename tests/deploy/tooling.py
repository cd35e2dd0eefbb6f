"""Helpers of the deployment tests: the pinned helm, kustomize builds, the API server's own
authorization answers (SubjectAccessReview) and YAML loading."""

from __future__ import annotations

import functools
import json
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from eternal_operator.devtools.controlplane import ControlPlane, find_binaries, find_kubectl
from support import terminal

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
OPERATOR_CHART = CHARTS / "eternal-engine-operator"
CRDS_CHART = CHARTS / "eternal-engine-crds"
PRODUCTION_VALUES = OPERATOR_CHART / "ci" / "production-values.yaml"
MANIFESTS = REPO / "manifests"
MONITORING = MANIFESTS / "monitoring"
ADMISSION = MANIFESTS / "admission"
ARGOCD = MANIFESTS / "argocd"
TERRAFORM = REPO / "terraform"
FIXTURES = Path(__file__).parent / "fixtures"
HELM_BUILD = REPO / "tests" / "tools" / "helm" / "build.sh"

Obj = dict[str, Any]


class ToolError(RuntimeError):
    """A tool refused its input; the message carries its stderr."""


@functools.cache
def helm_binary() -> str:
    """The pinned helm (tests/tools/helm), built from the Go module proxy on first use."""
    with terminal.visible():  # a cold build takes minutes: its progress on the terminal
        result = subprocess.run(
            ["bash", str(HELM_BUILD)], stdout=subprocess.PIPE, text=True, check=False
        )
    if result.returncode != 0:
        raise ToolError(f"building helm failed (exit {result.returncode}); run {HELM_BUILD}")
    return result.stdout.strip().splitlines()[-1]


@functools.cache
def kubectl_binary() -> str:
    """kubectl from PATH, or the one the control-plane build makes when PATH has none."""
    return shutil.which("kubectl") or find_kubectl(find_binaries())


def run(argv: list[str], *, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=input, capture_output=True, text=True, check=False)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return run([helm_binary(), *args])


def value_args(values: Mapping[str, Any] | None, value_files: Iterable[Path]) -> list[str]:
    args = [arg for path in value_files for arg in ("-f", str(path))]
    if values:
        # JSON is YAML: one --values file from stdin keeps types exact (no --set guessing).
        args += ["-f", "-"]
    return args


def render_text(
    chart: Path = OPERATOR_CHART,
    *,
    release: str = "eternal",
    namespace: str = "eternal-system",
    values: Mapping[str, Any] | None = None,
    value_files: Iterable[Path] = (),
) -> subprocess.CompletedProcess[str]:
    argv = [helm_binary(), "template", release, str(chart), "--namespace", namespace]
    argv += value_args(values, value_files)
    return run(argv, input=json.dumps(values) if values else None)


def render(
    chart: Path = OPERATOR_CHART,
    *,
    release: str = "eternal",
    namespace: str = "eternal-system",
    values: Mapping[str, Any] | None = None,
    value_files: Iterable[Path] = (),
) -> list[Obj]:
    """`helm template` the chart and parse every object; raises with helm's message."""
    result = render_text(
        chart, release=release, namespace=namespace, values=values, value_files=value_files
    )
    if result.returncode != 0:
        raise ToolError(result.stderr.strip())
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def kustomize(path: Path) -> list[Obj]:
    """kubectl's built-in kustomize build of a folder."""
    result = run([kubectl_binary(), "kustomize", str(path)])
    if result.returncode != 0:
        raise ToolError(result.stderr.strip())
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def pick(docs: Iterable[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [
        d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: Iterable[Obj], kind: str, name: str | None = None) -> Obj:
    found = pick(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def load_yaml_docs(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def apply(
    plane: ControlPlane, docs: Iterable[Obj], *extra: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Server-side apply with strict field validation: unknown or duplicate fields are errors."""
    text = yaml.safe_dump_all(list(docs), sort_keys=False)
    return plane.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=eternal-deploy-tests",
        "--validate=strict",
        "-f",
        "-",
        *extra,
        input=text,
        check=check,
    )


def delete_cluster_scoped(plane: ControlPlane, docs: Iterable[Obj]) -> None:
    """Namespaces clean up their own objects; cluster-scoped ones are deleted here."""
    for doc in docs:
        if "namespace" not in doc["metadata"]:
            plane.kubectl(
                "delete", doc["kind"], doc["metadata"]["name"], "--wait=false", check=False
            )


class Api:
    """A minimal HTTPS client for the test API server, authenticated as the admin."""

    def __init__(self, plane: ControlPlane) -> None:
        self.server = plane.server
        self.token = plane.token
        self.context = ssl.create_default_context(cafile=str(plane.ca_file))

    def post(self, path: str, body: Obj) -> Obj:
        request = urllib.request.Request(
            f"{self.server}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
            result: Obj = json.load(response)
            return result

    def can(
        self,
        user: str,
        verb: str,
        resource: str,
        *,
        group: str = "",
        namespace: str | None = None,
        subresource: str | None = None,
        name: str | None = None,
    ) -> bool:
        """The API server's own answer, through a SubjectAccessReview."""
        attributes: Obj = {"verb": verb, "resource": resource, "group": group}
        if namespace is not None:
            attributes["namespace"] = namespace
        if subresource is not None:
            attributes["subresource"] = subresource
        if name is not None:
            attributes["name"] = name
        groups = ["system:authenticated"]
        if user.startswith("system:serviceaccount:"):
            groups += ["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"]
        review = self.post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
            },
        )
        return bool(review["status"].get("allowed", False))


def service_account_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"
