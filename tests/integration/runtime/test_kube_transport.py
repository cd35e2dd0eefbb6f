"""The Kubernetes clients' transport (httpx2's requests over aiohttp) against a real HTTP server
on loopback: the request arrives as httpx2 built it (query encoded once, headers, body), a
watch's lines come as they are written, a 401 makes lightkube's token-file authentication read
the rotated token and send again, a connection waits for the next report however far apart a
runtime's reports are, and aiohttp's failures reach callers as httpx2's errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp.connector
import annotated_types
import httpx2
import pytest
from aiohttp import web
from lightkube.config.kubeconfig import KubeConfig

from engine_runtime.config import RuntimeSettings
from eternal_kernel.kube.kubeconfig import connect
from eternal_kernel.kube.transport import KEEPALIVE_S, AiohttpTransport

pytestmark = pytest.mark.integration


class Server:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.token = "first"
        self.release = asyncio.Event()

    async def echo(self, request: web.Request) -> web.Response:
        self.seen.append({
            "query": request.query_string, "headers": dict(request.headers),
            "body": await request.read(), "method": request.method,
            "peer": request.transport.get_extra_info("peername") if request.transport else None,
        })  # fmt: skip
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"kind": "Status", "code": 401}, status=401)
        return web.json_response({"ok": True})

    async def watch(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b'{"type": "ADDED"}\n')
        await self.release.wait()  # the second line only once the first was read
        await response.write(b'{"type": "MODIFIED"}\n')
        return response

    async def stall(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    state = Server()
    app = web.Application()
    app.router.add_route("*", "/echo", state.echo)
    app.router.add_get("/watch", state.watch)
    app.router.add_get("/stall", state.stall)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state, f"http://127.0.0.1:{port}"
    state.release.set()
    await runner.cleanup()


def _client(url: str, token_file: Path) -> httpx2.AsyncClient:
    config = KubeConfig.from_dict({
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"tokenFile": str(token_file)}}],
    }).get()  # fmt: skip
    return connect(config, timeout_s=2.0)


async def test_a_request_arrives_as_built_and_a_rotated_token_is_read_on_401(
    server: tuple[Server, str], tmp_path: Path
) -> None:
    state, url = server
    token = tmp_path / "token"
    token.write_text("first\n")
    client = _client(url, token)
    assert isinstance(client._transport, AiohttpTransport)
    try:
        params = {"fieldSelector": "metadata.name=e1", "watch": "true"}
        patch = {"Content-Type": "application/merge-patch+json"}
        answer = await client.patch("/echo", params=params, content=b'{"a": 1}', headers=patch)
        assert answer.json() == {"ok": True}
        first = state.seen[-1]
        assert first["query"] == "fieldSelector=metadata.name%3De1&watch=true"  # encoded once
        assert first["body"] == b'{"a": 1}'
        assert first["method"] == "PATCH"
        assert first["headers"]["Content-Type"] == "application/merge-patch+json"
        assert first["headers"]["Accept"] == "application/json"
        # The kubelet rotates the projected token: the next request gets a 401 with the old one,
        # and the same request goes again with the new one.
        state.token = "second"
        token.write_text("second\n")
        assert (await client.get("/echo")).status_code == 200
        assert [s["headers"]["Authorization"] for s in state.seen[-2:]] == [
            "Bearer first",
            "Bearer second",
        ]
    finally:
        await client.aclose()


async def test_a_connection_waits_for_the_next_report_however_far_apart_reports_are(
    server: tuple[Server, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runtime reports its status every `report_interval_seconds`, 60 s at most: each report
    goes out on the connection the one before used, since a new one costs the API server a TLS
    handshake. aiohttp dates an idle connection by `time.monotonic`, here a clock the test
    moves."""
    now = [1000.0]
    monkeypatch.setattr(aiohttp.connector, "monotonic", lambda: now[0])
    (longest,) = (m.le for m in RuntimeSettings.model_fields["report_interval_seconds"].metadata
                  if isinstance(m, annotated_types.Le))  # fmt: skip
    state, url = server
    (tmp_path / "token").write_text("first\n")
    client = _client(url, tmp_path / "token")
    try:
        await client.get("/echo")
        now[0] += float(longest) + 1
        await client.get("/echo")
        assert state.seen[-1]["peer"] == state.seen[-2]["peer"]  # the same connection
        now[0] += KEEPALIVE_S + 1
        await client.get("/echo")
        assert state.seen[-1]["peer"] != state.seen[-2]["peer"]  # idle too long: a new one
    finally:
        await client.aclose()


async def test_a_watch_streams_its_lines_as_they_come(
    server: tuple[Server, str], tmp_path: Path
) -> None:
    state, url = server
    (tmp_path / "token").write_text("first\n")
    client = _client(url, tmp_path / "token")
    lines = []
    try:
        async with client.stream("GET", "/watch") as response:
            async for line in response.aiter_lines():
                lines.append(line)
                state.release.set()  # the server writes the second line only now
    finally:
        await client.aclose()
    assert lines == ['{"type": "ADDED"}', '{"type": "MODIFIED"}']


async def test_failures_are_httpx2_errors(server: tuple[Server, str], tmp_path: Path) -> None:
    _, url = server
    (tmp_path / "token").write_text("first\n")
    client = _client(url, tmp_path / "token")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}"
    try:
        with pytest.raises(httpx2.ReadTimeout):
            await client.get("/stall", timeout=httpx2.Timeout(5.0, read=0.2))
        with pytest.raises(httpx2.ConnectError):
            await client.get(f"{closed}/echo")
    finally:
        await client.aclose()
