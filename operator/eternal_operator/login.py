"""kopf's login from the kernel's kubeconfig: the same resolution as the operator's own client.

The pod's service account, else every $KUBECONFIG path merged (eternal_kernel.kube.kubeconfig),
read by lightkube into one context: server, CA, insecure flag, namespace, and the user's
credentials as they are now: a token, a token file read afresh, an exec credential plugin run
(its `expirationTimestamp` becomes the connection's `expiration`), a client certificate and key.
kopf calls the login again when the API server answers 401 or the expiration passes, so a rotated
token file or a renewed exec credential is picked up without a restart. Certificates and keys
given inline go to kopf as data: kopf writes them to self-deleting temporary files only while it
builds its TLS context; nothing of ours is left on disk.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from typing import TYPE_CHECKING, Any

import kopf

from eternal_kernel.kube.kubeconfig import KubeconfigError, load_config

if TYPE_CHECKING:
    from lightkube.config.kubeconfig import SingleConfig
    from lightkube.config.models import UserExec

EXEC_TIMEOUT_S = 60.0


def _exec_credential(plugin: UserExec) -> dict[str, Any]:
    """The `status` of the ExecCredential the plugin prints."""
    env = {**os.environ, **{item.name: item.value for item in plugin.env or []}}
    try:
        done = subprocess.run(
            [plugin.command, *(plugin.args or [])],
            env=env,
            capture_output=True,
            timeout=EXEC_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise kopf.LoginError(f"exec credential plugin {plugin.command}: {error}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()
        raise kopf.LoginError(
            f"exec credential plugin {plugin.command} exited {done.returncode}: {stderr}"
        )
    try:
        status = json.loads(done.stdout)["status"]
    except (ValueError, KeyError, TypeError):
        raise kopf.LoginError(f"exec credential plugin {plugin.command}: no status") from None
    return dict(status)


def _expiration(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def connection_info(config: SingleConfig) -> kopf.ConnectionInfo:
    """kopf's connection for one kubeconfig context, its credentials read now."""
    cluster, user = config.cluster, config.user
    assert user is not None  # load_config refuses a context without a user
    token = user.token
    if user.token_file:
        try:
            token = open(config.abs_file(user.token_file)).read().strip()  # noqa: SIM115
        except OSError as error:
            raise kopf.LoginError(f"cannot read the token file: {error}") from None
    certificate: dict[str, Any] = {
        "certificate_path": user.client_cert and str(config.abs_file(user.client_cert)),
        "certificate_data": user.client_cert_data,
        "private_key_path": user.client_key and str(config.abs_file(user.client_key)),
        "private_key_data": user.client_key_data,
    }
    expiration = None
    if user.exec:
        status = _exec_credential(user.exec)
        token = status.get("token") or token
        expiration = _expiration(status.get("expirationTimestamp"))
        if status.get("clientCertificateData"):
            certificate = {
                "certificate_data": status["clientCertificateData"],
                "private_key_data": status.get("clientKeyData"),
            }
    return kopf.ConnectionInfo(
        server=cluster.server,
        ca_path=cluster.certificate_auth and str(config.abs_file(cluster.certificate_auth)),
        ca_data=cluster.certificate_auth_data,
        insecure=cluster.insecure,
        username=user.username,
        password=user.password,
        token=token,
        default_namespace=config.namespace,
        expiration=expiration,
        **certificate,
    )


def login() -> kopf.ConnectionInfo:
    """The login handler's answer: the in-cluster service account, else the merged $KUBECONFIG."""
    try:
        return connection_info(load_config())
    except KubeconfigError as error:
        raise kopf.LoginError(str(error)) from None
