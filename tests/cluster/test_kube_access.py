"""The Kubernetes clients' access, against the real API server: a token file rotated on disk is
picked up without a restart, every $KUBECONFIG path is merged, an exec credential plugin is run
(once, not per request), and an inline CA leaves no temporary file behind.

Identity is what the API server says it is (a SelfSubjectReview), for a ServiceAccount the
control plane issues tokens for."""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import yaml

from engine_runtime.governance.kube import EngineClient
from engine_runtime.governance.kube import KubeError as RuntimeKubeError
from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.kube import KubeClient, KubeError
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW_BODY = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


@pytest.fixture
def account(control_plane: ControlPlane) -> Iterator[tuple[str, str]]:
    """A namespace of its own with a ServiceAccount `robot`: (namespace, username)."""
    ns = f"access-{secrets.token_hex(4)}"
    control_plane.kubectl("create", "namespace", ns)
    control_plane.kubectl("-n", ns, "create", "serviceaccount", "robot")
    yield ns, f"system:serviceaccount:{ns}:robot"
    control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _secret_bound_token(plane: ControlPlane, ns: str, secret: str) -> str:
    """A token of `robot` that is valid while the Secret `secret` exists."""
    plane.kubectl("-n", ns, "create", "secret", "generic", secret)
    uid = plane.kubectl("-n", ns, "get", "secret", secret, "-o", "jsonpath={.metadata.uid}")
    return plane.kubectl(
        "-n", ns, "create", "token", "robot", "--bound-object-kind=Secret",
        f"--bound-object-name={secret}", f"--bound-object-uid={uid.stdout.strip()}",
    ).stdout.strip()  # fmt: skip


def _kubeconfig(
    plane: ControlPlane, user: dict[str, object], **cluster: object
) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "plane", "cluster": {"server": plane.server, **cluster}}],
        "users": [{"name": "someone", "user": user}],
        "contexts": [{"name": "here", "context": {"cluster": "plane", "user": "someone"}}],
        "current-context": "here",
    }


def _write(path: Path, document: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


async def _whoami(kube: KubeClient) -> str:
    review = await kube.request("POST", REVIEW, REVIEW_BODY)
    return str(review["status"]["userInfo"]["username"])


async def _forbidden_to_list(runtime: EngineClient) -> str:
    """The runtime's client lists policies as `robot`, which has no Role: the API server knows
    who asks (403 naming the user), where a refused token gets 401."""
    with pytest.raises(RuntimeKubeError) as refused:
        await runtime.policies.list()
    assert refused.value.status == 403
    return str(re.search(r'User \\"([^"\\]+)\\"', str(refused.value)).group(1))  # type: ignore[union-attr]


def _rejected(plane: ControlPlane, token: str) -> bool:
    """Whether the API server refuses `token` now (it caches accepted tokens for a few seconds)."""
    context = ssl.create_default_context(cafile=str(plane.ca_file))
    with httpx2.Client(base_url=plane.server, verify=context) as http:
        answer = http.post(REVIEW, json=REVIEW_BODY, headers={"Authorization": f"Bearer {token}"})
    return answer.status_code == 401


async def test_a_rotated_token_file_is_read_again_without_a_restart(
    control_plane: ControlPlane,
    account: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns, username = account
    old = _secret_bound_token(control_plane, ns, "first")
    new = _secret_bound_token(control_plane, ns, "second")
    token_file = tmp_path / "token"
    token_file.write_text(old)
    config = _kubeconfig(
        control_plane,
        {"tokenFile": str(token_file)},
        **{"certificate-authority": str(control_plane.ca_file)},
    )
    monkeypatch.setenv("KUBECONFIG", str(_write(tmp_path / "config", config)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    operator_client = KubeClient.from_environment()
    runtime_client = EngineClient.from_environment(ns, "none")
    try:
        assert await _whoami(operator_client) == username
        assert await _forbidden_to_list(runtime_client) == username
        # the kubelet writes a new token; the old one then stops being valid
        token_file.write_text(new)
        control_plane.kubectl("-n", ns, "delete", "secret", "first")
        wait_for(lambda: _rejected(control_plane, old), 30, "the old token refused")
        assert await _whoami(operator_client) == username  # the same client, the new token
        assert await _forbidden_to_list(runtime_client) == username  # authenticated, not 401
    finally:
        await operator_client.close()
        await runtime_client.close()
    # and a token that is simply wrong still fails, with its status
    token_file.write_text("not-a-token")
    control_plane.kubectl("-n", ns, "delete", "secret", "second")
    wait_for(lambda: _rejected(control_plane, new), 30, "the new token refused")
    refused = KubeClient.from_environment()
    with pytest.raises(KubeError) as failed:
        await _whoami(refused)
    await refused.close()
    assert failed.value.status == 401


async def test_every_kubeconfig_path_is_merged_and_an_inline_ca_leaves_no_file(
    control_plane: ControlPlane,
    account: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns, username = account
    token = control_plane.kubectl("-n", ns, "create", "token", "robot").stdout.strip()
    ca = base64.b64encode(control_plane.ca_file.read_bytes()).decode()
    full = _kubeconfig(control_plane, {"token": token}, **{"certificate-authority-data": ca})
    # the cluster and user in the first file, the context choosing them in the last, with a
    # decoy cluster of the same name that the first file's shadows (and a missing file between)
    decoy = {"name": "plane", "cluster": {"server": "https://127.0.0.1:9"}}
    contexts = {"contexts": full["contexts"], "current-context": "here", "clusters": [decoy]}
    credentials = {"clusters": full["clusters"], "users": full["users"]}
    first, last = _write(tmp_path / "creds", credentials), _write(tmp_path / "contexts", contexts)
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'absent'}:{last}")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    kube = KubeClient.from_environment()
    try:
        assert await _whoami(kube) == username
        assert kube.host == control_plane.server
    finally:
        await kube.close()
    assert list(scratch.iterdir()) == []  # the CA was written only while the TLS context was built


async def test_an_exec_plugin_gives_the_token_once(
    control_plane: ControlPlane,
    account: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns, username = account
    token = control_plane.kubectl("-n", ns, "create", "token", "robot").stdout.strip()
    runs = tmp_path / "runs"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import pathlib, sys\n"
        f"with open({str(runs)!r}, 'a') as runs:\n    runs.write('run\\n')\n"
        f"sys.stdout.write({json.dumps(credential)!r})\n"
    )
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                     "command": sys.executable, "args": [str(plugin)]}}  # fmt: skip
    config = _kubeconfig(
        control_plane, user, **{"certificate-authority": str(control_plane.ca_file)}
    )
    monkeypatch.setenv("KUBECONFIG", str(_write(tmp_path / "config", config)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    kube = KubeClient.from_environment()
    try:
        assert await _whoami(kube) == username
        assert await _whoami(kube) == username
    finally:
        await kube.close()
    assert runs.read_text() == "run\n"
