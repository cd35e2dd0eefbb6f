"""Where the API server is and how to authenticate: the pod's service account, else $KUBECONFIG.

A small reader instead of the `kubernetes` package (which costs an idle runtime some 30 MiB):
bearer tokens and client certificates, CA by file or inline data, the current context.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeconfigError(Exception):
    pass


@dataclass
class ApiAccess:
    server: str
    headers: dict[str, str]
    ssl_context: ssl.SSLContext | bool


def load_access() -> ApiAccess:
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if host and port and (SERVICE_ACCOUNT / "token").exists():
        token = (SERVICE_ACCOUNT / "token").read_text().strip()
        context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
        return ApiAccess(f"https://{host}:{port}", _bearer(token), context)
    path = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise KubeconfigError(f"no in-cluster service account and no kubeconfig: {error}") from None
    return from_kubeconfig(config, path.parent)


def _named(items: list[dict[str, Any]], name: str, kind: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return dict(item.get(kind) or {})
    raise KubeconfigError(f"kubeconfig has no {kind} {name!r}")


def _file(entry: dict[str, Any], key: str, base: Path) -> str | None:
    if entry.get(f"{key}-data"):
        handle = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")  # noqa: SIM115
        handle.write(base64.b64decode(entry[f"{key}-data"]))
        handle.close()
        return handle.name
    if entry.get(key):
        return str((base / str(entry[key])).expanduser())
    return None


def _bearer(token: str) -> dict[str, str]:
    return {"Accept": "application/json", "Authorization": f"Bearer {token}"}


def from_kubeconfig(config: dict[str, Any], base: Path) -> ApiAccess:
    name = config.get("current-context")
    context = _named(config.get("contexts") or [], str(name), "context")
    cluster = _named(config.get("clusters") or [], str(context.get("cluster")), "cluster")
    user = _named(config.get("users") or [], str(context.get("user")), "user")
    headers = {"Accept": "application/json"}
    if user.get("token"):
        headers = _bearer(str(user["token"]))
    elif user.get("tokenFile"):
        headers = _bearer(Path(str(user["tokenFile"])).read_text().strip())
    server = str(cluster["server"]).rstrip("/")
    if not server.startswith("https"):
        return ApiAccess(server, headers, False)
    if cluster.get("insecure-skip-tls-verify"):
        verify: ssl.SSLContext | bool = False
    else:
        verify = ssl.create_default_context(cafile=_file(cluster, "certificate-authority", base))
    cert = _file(user, "client-certificate", base)
    if cert and isinstance(verify, ssl.SSLContext):
        verify.load_cert_chain(cert, _file(user, "client-key", base))
    return ApiAccess(server, headers, verify)
