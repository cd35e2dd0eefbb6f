"""From a Deployment's or Job's pod template to a local command line, environment and files.

Resolves what the runtime's pod uses: env values and valueFrom (Secret and ConfigMap keys, the
downward-API fields, the pod's own labels and annotations among them), envFrom Secrets and
ConfigMaps, ConfigMap and emptyDir volumes (written under the pod's own directory) and
persistentVolumeClaim volumes bound to a hostPath or local PersistentVolume (a link to its
directory, read-only for the process when asked: claims.py), with references to their mount
paths rewritten, a kubeconfig holding a token of the pod's ServiceAccount (so the process has
exactly the pod's RBAC), and a free local port for each named container port
(`EE_<NAME>_PORT`), since local pods share one network namespace.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eternal_operator.devtools.processes import free_port
from eternal_operator.kube import KubeClient

from .claims import ClaimError, claimed_directory, read_only_command

Obj = dict[str, Any]


class TemplateError(Exception):
    """The pod cannot be started as specified (like a kubelet's CreateContainerConfigError)."""


@dataclass
class LocalPod:
    name: str
    namespace: str
    argv: list[str]
    env: dict[str, str]
    directory: Path
    ports: dict[str, int] = field(default_factory=dict)
    grace_seconds: float = 30.0
    readiness_path: str | None = None
    readiness_port: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    read_only: list[Path] = field(default_factory=list)
    """Directories of the machine the process may only read (its read-only claims' volumes)."""


def template_hash(workload: Obj) -> str:
    template = workload["spec"]["template"]
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def _local_command(command: list[str]) -> list[str]:
    if command and command[0] in ("python", "python3"):
        return [sys.executable, *command[1:]]
    return command


async def _secret(kube: KubeClient, namespace: str, name: str) -> Obj | None:
    return await kube.get_or_none("v1", "Secret", namespace, name)


async def _config_map(kube: KubeClient, namespace: str, name: str) -> Obj | None:
    return await kube.get_or_none("v1", "ConfigMap", namespace, name)


def _decode(secret: Obj, key: str) -> str | None:
    data = secret.get("data") or {}
    return base64.b64decode(data[key]).decode() if key in data else None


async def _value_from(kube: KubeClient, source: Obj, pod: LocalPod, sa: str) -> str | None:
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        secret = await _secret(kube, pod.namespace, ref["name"])
        value = _decode(secret, ref["key"]) if secret else None
        if value is None and not ref.get("optional"):
            raise TemplateError(f"secret {pod.namespace}/{ref['name']} key {ref['key']} not found")
        return value
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        cm = await _config_map(kube, pod.namespace, ref["name"])
        found = (cm or {}).get("data", {}).get(ref["key"])
        value = None if found is None else str(found)
        if value is None and not ref.get("optional"):
            raise TemplateError(
                f"configmap {pod.namespace}/{ref['name']} key {ref['key']} not found"
            )
        return value
    if "fieldRef" in source:
        path = source["fieldRef"]["fieldPath"]
        fields = {
            "metadata.name": pod.name, "metadata.namespace": pod.namespace,
            "spec.serviceAccountName": sa, "status.podIP": "127.0.0.1",
        }  # fmt: skip
        meta = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if meta:
            source = pod.labels if meta.group(1) == "labels" else pod.annotations
            return source.get(meta.group(2), "")
        if path not in fields:
            raise TemplateError(f"downward-API field {path} is not supported locally")
        return fields[path]
    raise TemplateError(f"unsupported valueFrom {sorted(source)}")


async def _service_account_kubeconfig(
    kube: KubeClient,
    namespace: str,
    service_account: str,
    target: Path,
    ca_file: str | None,
    server: str | None = None,
) -> Path:
    """A kubeconfig with a fresh token of the ServiceAccount (TokenRequest API)."""
    answer = await kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": 86400}},
    )  # fmt: skip
    token = answer["status"]["token"]
    cluster = (
        f"    certificate-authority: {ca_file}\n"
        if ca_file
        else "    insecure-skip-tls-verify: true\n"
    )
    target.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n"
        f"    server: {server or kube.host}\n{cluster}"
        f"users:\n- name: {service_account}\n  user:\n    token: {token}\n"
        f"contexts:\n- name: local\n  context:\n    cluster: local\n    user: {service_account}\n"
        f"    namespace: {namespace}\ncurrent-context: local\n"
    )
    target.chmod(0o600)
    return target


async def resolve(
    kube: KubeClient,
    workload: Obj,
    root: Path,
    ca_file: str | None,
    server: str | None = None,
    *,
    pod_name: str | None = None,
    annotations: dict[str, str] | None = None,
) -> LocalPod:
    """The local pod for `workload`'s template (a Deployment's or a Job's; its files written
    under `root`), named `pod_name` (default: the workload's name and template hash) with
    `annotations` added to the template's; its kubeconfig points at `server` (another way to
    the same API server) when given."""
    meta = workload["metadata"]
    namespace = meta["namespace"]
    template = workload["spec"]["template"]
    spec = template["spec"]
    (container,) = spec["containers"][:1]
    name = pod_name or f"{meta['name']}-{template_hash(workload)}"
    directory = root / namespace / name
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    sa = spec.get("serviceAccountName", "default")
    pod = LocalPod(
        name=name, namespace=namespace,
        argv=_local_command(list(container.get("command", [])) + list(container.get("args", []))),
        env={}, directory=directory,
        grace_seconds=float(spec.get("terminationGracePeriodSeconds", 30)),
        labels=dict((template.get("metadata") or {}).get("labels") or {}),
        annotations={**((template.get("metadata") or {}).get("annotations") or {}),
                     **(annotations or {})},
    )  # fmt: skip
    mounts = await _volumes(kube, spec, container, pod)
    for source in container.get("envFrom", []):
        ref = source.get("secretRef") or source.get("configMapRef") or {}
        if "secretRef" in source:
            obj = await _secret(kube, namespace, ref["name"])
            values = {k: _decode(obj, k) or "" for k in obj.get("data", {})} if obj else {}
        else:
            obj = await _config_map(kube, namespace, ref["name"])
            values = dict((obj or {}).get("data") or {})
        if obj is None and not ref.get("optional"):
            raise TemplateError(f"envFrom {ref['name']} not found in {namespace}")
        pod.env.update(values)
    for var in container.get("env", []):
        value = var.get("value")
        if "valueFrom" in var:
            value = await _value_from(kube, var["valueFrom"], pod, sa)
        if value is not None:
            pod.env[var["name"]] = _rewrite(str(value), mounts)
    for port in container.get("ports", []):
        if port.get("name"):
            local = free_port()
            pod.ports[port["name"]] = local
            pod.env[f"EE_{port['name'].upper()}_PORT"] = str(local)
    pod.argv = [_expand(arg, pod.env) for arg in pod.argv]
    try:
        pod.argv = read_only_command(pod.read_only, pod.argv)
    except ClaimError as error:
        raise TemplateError(str(error)) from None
    probe = (container.get("readinessProbe") or {}).get("httpGet")
    if probe:
        pod.readiness_path = probe.get("path", "/")
        port = probe.get("port")
        pod.readiness_port = pod.ports.get(port) if isinstance(port, str) else port
    if spec.get("automountServiceAccountToken", True):
        kubeconfig = await _service_account_kubeconfig(
            kube, namespace, sa, directory / "kubeconfig", ca_file, server
        )
        pod.env["KUBECONFIG"] = str(kubeconfig)
    return pod


async def _volumes(kube: KubeClient, spec: Obj, container: Obj, pod: LocalPod) -> dict[str, Path]:
    """Materialise ConfigMap and emptyDir volumes, link persistentVolumeClaim volumes to their
    PV's directory (claims.py; read-only ones listed in `pod.read_only`); returns mountPath ->
    local directory."""
    local: dict[str, Path] = {}
    mounts = container.get("volumeMounts", [])
    for volume in spec.get("volumes", []):
        target = pod.directory / "volumes" / volume["name"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if "persistentVolumeClaim" in volume:
            source = volume["persistentVolumeClaim"]
            try:
                directory = await claimed_directory(kube, pod.namespace, source["claimName"])
            except ClaimError as error:
                raise TemplateError(f"volume {volume['name']}: {error}") from None
            target.symlink_to(directory, target_is_directory=True)
            modes = {bool(m.get("readOnly")) for m in mounts if m["name"] == volume["name"]}
            if len(modes) > 1 and not source.get("readOnly"):
                raise TemplateError(f"volume {volume['name']}: mounted both read-only and "
                                    "read-write, which one local directory cannot be")  # fmt: skip
            if source.get("readOnly") or modes == {True}:
                pod.read_only.append(directory)
        elif "configMap" in volume:
            target.mkdir()
            cm = await _config_map(kube, pod.namespace, volume["configMap"]["name"])
            if cm is None:
                raise TemplateError(f"configmap {volume['configMap']['name']} not found")
            for key, text in (cm.get("data") or {}).items():
                (target / key).write_text(text)
        elif "emptyDir" in volume:
            target.mkdir()
        else:
            raise TemplateError(f"volume {volume['name']}: only configMap, emptyDir and "
                                "persistentVolumeClaim run locally")  # fmt: skip
        local[volume["name"]] = target
    return {m["mountPath"]: local[m["name"]] for m in mounts}


_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _expand(arg: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command and args; unknown references stay as written."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), arg)


def _rewrite(value: str, mounts: dict[str, Path]) -> str:
    for mount_path, directory in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(directory) + value[len(mount_path.rstrip("/")) :]
    return value
