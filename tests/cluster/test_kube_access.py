"""The Kubernetes clients' access, against the real API server: a token file rotated on disk is
picked up without a restart, every $KUBECONFIG path is merged, an exec credential plugin is run
(once, not per request), and an inline CA leaves no temporary file behind. kopf's login (the
operator's watches) resolves the same kubeconfig: merged paths, exec credentials with their
expiration, a token file read again at each login.

Identity is what the API server says it is (a SelfSubjectReview), for a ServiceAccount the
control plane issues tokens for."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import re
import secrets
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import kopf
import pytest
import yaml

from engine_runtime.governance.kube import EngineClient
from engine_runtime.governance.kube import KubeError as RuntimeKubeError
from engine_runtime.governance.watcher import Watcher
from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.kube import KubeClient, KubeError
from eternal_operator.login import login
from support import processes
from support.governance import policy
from support.kube import apply
from support.processes import Venue
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


def _token_file(plane: ControlPlane, ns: str, directory: Path) -> tuple[str, str, Path]:
    """Two tokens of `robot`, each revocable alone, and a token file holding the first."""
    old = _secret_bound_token(plane, ns, "first")
    new = _secret_bound_token(plane, ns, "second")
    token_file = directory / "token"
    token_file.write_text(old)
    return old, new, token_file


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
    old, new, token_file = _token_file(control_plane, ns, tmp_path)
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
    user = _exec_plugin(tmp_path, token, runs)
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


def _exec_plugin(
    tmp_path: Path, token: str, runs: Path, expires: str | None = None
) -> dict[str, object]:
    """A kubeconfig user whose exec plugin prints `token` (expiring at `expires`), counting its
    runs in `runs`."""
    status = {"token": token} | ({"expirationTimestamp": expires} if expires else {})
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": status,
    }
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import sys\n"
        f"with open({str(runs)!r}, 'a') as runs:\n    runs.write('run\\n')\n"
        f"sys.stdout.write({json.dumps(credential)!r})\n"
    )
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                     "command": sys.executable, "args": [str(plugin)]}}  # fmt: skip


def _split(plane: ControlPlane, user: dict[str, object], tmp_path: Path, ns: str) -> str:
    """KUBECONFIG of two files (a missing one between): the cluster with an inline CA and the
    context (namespace `ns`) in the first, the user in the second."""
    ca = base64.b64encode(plane.ca_file.read_bytes()).decode()
    full = _kubeconfig(plane, user, **{"certificate-authority-data": ca})
    full["contexts"] = [{"name": "here", "context": {"cluster": "plane", "user": "someone",
                                                     "namespace": ns}}]  # fmt: skip
    first = _write(tmp_path / "cluster", {**full, "users": []})
    second = _write(tmp_path / "user", {"users": full["users"]})
    return f"{first}:{tmp_path / 'absent'}:{second}"


async def _kopf_whoami(info: kopf.ConnectionInfo) -> str:
    """Who the API server says kopf's connection is: its TLS context and headers, as kopf's
    own API client builds them from a ConnectionInfo."""
    connector = aiohttp.TCPConnector(ssl=info.as_ssl_context())
    headers = info.as_http_headers()
    async with (
        aiohttp.ClientSession(connector=connector, headers=headers) as http,
        http.post(info.server + REVIEW, json=REVIEW_BODY) as answer,
    ):
        assert answer.status == 201, await answer.text()
        return str((await answer.json())["status"]["userInfo"]["username"])


async def test_kopfs_login_merges_the_kubeconfig_and_runs_the_exec_plugin_each_time(
    control_plane: ControlPlane,
    account: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns, username = account
    token = control_plane.kubectl("-n", ns, "create", "token", "robot").stdout.strip()
    runs = tmp_path / "runs"
    user = _exec_plugin(tmp_path, token, runs, "2031-05-06T07:08:09Z")
    monkeypatch.setenv("KUBECONFIG", _split(control_plane, user, tmp_path, ns))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    info = login()
    assert info.server == control_plane.server
    assert info.default_namespace == ns
    assert info.expiration == datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    assert await _kopf_whoami(info) == username
    assert list(scratch.iterdir()) == []  # the inline CA: kopf's temporary file, deleted
    login()  # kopf logs in again on a 401 or at the expiration: the plugin runs again
    assert runs.read_text() == "run\nrun\n"


async def test_kopfs_login_reads_a_rotated_token_file_again(
    control_plane: ControlPlane,
    account: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns, username = account
    old, new, token_file = _token_file(control_plane, ns, tmp_path)
    config = _kubeconfig(
        control_plane,
        {"tokenFile": "token"},
        **{"certificate-authority": str(control_plane.ca_file)},
    )  # a token file relative to the kubeconfig, as kubectl reads it
    monkeypatch.setenv("KUBECONFIG", str(_write(tmp_path / "config", config)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    first = login()
    assert first.token == old
    assert await _kopf_whoami(first) == username
    token_file.write_text(new)
    control_plane.kubectl("-n", ns, "delete", "secret", "first")
    wait_for(lambda: _rejected(control_plane, old), 30, "the old token refused")
    again = login()  # what kopf does on the 401 the old token now gets
    assert again.token == new
    assert await _kopf_whoami(again) == username


def test_the_operators_watches_log_in_through_a_merged_kubeconfig_and_an_exec_plugin(
    control_plane: ControlPlane, paper_venue: Venue, tmp_path: Path
) -> None:
    """The operator process with only an exec credential, in a KUBECONFIG of two files: kopf
    (which serves the CircuitBreakerPolicy) logs in through it; the lease is the operator's own
    client's."""
    prefix = f"login{secrets.token_hex(2)}"
    ns = f"{prefix}-a"
    runs = tmp_path / "runs"
    user = _exec_plugin(tmp_path, control_plane.token, runs)
    merged = _split(control_plane, user, tmp_path, "default")
    op = processes.start_operator(
        Path(merged), paper_venue, tmp_path / "op.log", name=prefix,
        namespaces=f"{prefix}-*", lease_name=prefix,
    )  # fmt: skip
    try:
        wait_for(lambda: "leads via Lease" in op.text(), 30, "the operator to lead")
        control_plane.kubectl("create", "namespace", ns)
        apply(control_plane, ns, policy())

        def served() -> bool:  # a kopf handler of the policy, in its namespace
            return any(
                str(line.get("message", "")).startswith("Handler ")
                and (line.get("object") or {}).get("namespace") == ns  # type: ignore[attr-defined]
                for line in op.lines()
            )

        wait_for(served, 30, "kopf to serve the policy")
        assert "Activity 'register.<locals>.login' succeeded" in op.text()
        assert "LoginError" not in op.text()
        assert runs.exists()  # the plugin gave the only credential there is
    finally:
        op.stop()
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)


async def test_a_quiet_watch_is_watched_again_at_once_and_hears_what_comes_next(
    control_plane: ControlPlane,
    account: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A runtime's watch lasts 5 to 10 minutes, but one that sends nothing for `quiet_s` is
    ended and watched again from its last version, without a warning or a pause: a collection
    that never changes gets no bookmark from the API server, and a dead connection would go
    unnoticed as long. What comes after is heard."""
    ns, _ = account
    monkeypatch.setenv("KUBECONFIG", str(control_plane.kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    client = EngineClient.from_environment(ns, "none")
    policies = client.policies
    policies.quiet_s = 0.5
    watches = 0
    fourth, created = asyncio.Event(), asyncio.Event()
    watch = policies.watch

    async def counted(version: str) -> AsyncIterator[dict[str, Any]]:
        nonlocal watches
        watches += 1
        if watches == 4:  # three quiet ends, each watched again
            fourth.set()
        async for event in watch(version):
            yield event

    heard: list[str] = []

    def observe(obj: dict[str, Any]) -> None:
        heard.append(obj["metadata"]["name"])
        created.set()

    policies.watch = counted  # type: ignore[method-assign]
    watcher = Watcher("policies", policies, observe)
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(fourth.wait(), 10)
        assert watcher.connected
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.records
        apply(control_plane, ns, policy())
        await asyncio.wait_for(created.wait(), 10)
        assert heard == ["eternal"]
    finally:
        watcher.stop()
        task.cancel()
        await client.close()
