"""Where the API server is and how to authenticate: the pod's service account, else $KUBECONFIG.

lightkube's configuration does the authentication: bearer tokens, token files re-read when the
API server answers 401 (projected ServiceAccount tokens rotate), exec credential plugins, client
certificates, CA by file or inline data (kept in self-deleting temporary files only while the TLS
context is built). What lightkube leaves out is merging: every path of $KUBECONFIG is read and
merged the way kubectl does (the first file naming a cluster, user or context wins; the first
non-empty current-context wins), relative paths resolved against the file that holds them.

lightkube and its HTTP client are imported on first use, not with this module.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import httpx2
    from lightkube.config.kubeconfig import SingleConfig

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")

_SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}
_PATH_KEYS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
    "context": (),
}


class KubeconfigError(Exception):
    pass


def kubeconfig_paths() -> list[Path]:
    """The files $KUBECONFIG names (in order), else ~/.kube/config."""
    value = os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part]


def _absolute(entry: dict[str, Any], kind: str, base: Path) -> dict[str, Any]:
    entry = dict(entry)
    for key in _PATH_KEYS[kind]:
        if entry.get(key):
            entry[key] = str((base / str(entry[key])).expanduser())
    command = (entry.get("exec") or {}).get("command")
    if kind == "user" and command and "/" in command and not Path(command).is_absolute():
        entry["exec"] = {**entry["exec"], "command": str(base / command)}
    return entry


def merge_kubeconfigs(paths: Sequence[Path]) -> dict[str, Any]:
    """One kubeconfig from several, as kubectl merges them; missing files are skipped."""
    merged: dict[str, Any] = {section: [] for section in _SECTIONS}
    seen: dict[str, set[str]] = {section: set() for section in _SECTIONS}
    current = ""
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError) as error:
            raise KubeconfigError(f"cannot read kubeconfig {path}: {error}") from None
        current = current or str(document.get("current-context") or "")
        for section, kind in _SECTIONS.items():
            for item in document.get(section) or []:
                name = str(item.get("name"))
                if name in seen[section]:
                    continue
                seen[section].add(name)
                body = _absolute(item.get(kind) or {}, kind, path.parent)
                merged[section].append({"name": name, kind: body})
    if current:
        merged["current-context"] = current
    return merged


def load_config(
    service_account: Path = SERVICE_ACCOUNT,
    *,
    paths: Sequence[Path] | None = None,
    context: str | None = None,
) -> SingleConfig:
    """The service account's configuration inside a pod, else the merged $KUBECONFIG's current
    context. `paths` (kubeconfig files to merge instead of $KUBECONFIG's) or `context` (a context
    by name instead of the current one) ask for a kubeconfig, in a pod too."""
    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.core.exceptions import ConfigError

    in_pod = os.environ.get("KUBERNETES_SERVICE_HOST") and (service_account / "token").exists()
    try:
        if in_pod and paths is None and context is None:
            config = KubeConfig.from_service_account(service_account)
        else:
            paths = kubeconfig_paths() if paths is None else paths
            merged = merge_kubeconfigs(paths)
            if not merged["clusters"]:
                where = os.pathsep.join(map(str, paths))
                raise KubeconfigError(f"no in-cluster service account and no kubeconfig in {where}")
            config = KubeConfig.from_dict(merged)
        single = config.get(context)
    except (ConfigError, KeyError) as error:
        raise KubeconfigError(f"kubeconfig: {error}") from None
    if single is None or single.user is None:
        raise KubeconfigError("kubeconfig: the current context has no user")
    return single


def connect(
    config: SingleConfig | None = None,
    *,
    timeout_s: float | None = 10.0,
    connections: int = 100,
) -> httpx2.AsyncClient:
    """An HTTP client for the API server (base URL, TLS and authentication set), its requests
    sent over aiohttp (transport.py)."""
    import httpx2
    from lightkube.config.client_adapter import ConnectionParams

    from .transport import AiohttpTransport

    params = ConnectionParams(timeout=httpx2.Timeout(timeout_s), trust_env=False)
    settings = params.httpx_params(config or load_config())
    settings["transport"] = AiohttpTransport(settings.pop("verify"), connections=connections)
    client = httpx2.AsyncClient(**settings)
    client.headers["Accept"] = "application/json"
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # not a line per request
    return client
