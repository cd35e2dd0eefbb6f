"""httpx2's requests sent over aiohttp: the Kubernetes clients' transport.

lightkube's authentication (token files re-read on a 401, exec credentials) runs in httpx2's
client, which hands each request to a transport. httpx2's own (httpcore2 on anyio, with h11 and
h2) did TLS in Python over memory buffers: against a local API server a request took several
times as long as over aiohttp, the first one most of a second (the import and first handshake
inside the event loop), and an operator started that much slower at reconciling; and it cost
every runtime some 3 MiB resident. The operator (through kopf) and every runtime (its venue
clients) hold aiohttp anyway; this hands it the request as httpx2 built it and gives back the
answer as a stream, errors mapped to httpx2's so that callers see one family.

HTTP/1.1 with kept-alive connections (up to `connections`, idle ones closed after
`keepalive_s`, `KEEPALIVE_S` unless told); a response's bytes are passed on undecoded (httpx2
decodes them); redirects are httpx2's to follow (none here).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx2
from yarl import URL

KEEPALIVE_S = 75.0
"""How long an idle connection is kept for the next request: longer than a runtime's longest
report interval (60 s), so that every report goes out on the connection the one before it
used, and shorter than the API server's own idle timeout (90 s), so that we close first. A new
connection costs the API server a TLS handshake, which costs it more than a status PATCH."""

_NOT_FORWARDED = frozenset({"host", "content-length", "transfer-encoding", "connection"})
"""Headers aiohttp writes itself (for the body it sends and the connection it keeps)."""


def _error(error: Exception, request: httpx2.Request, reading: bool) -> httpx2.TransportError:
    """aiohttp's error as the httpx2 error it corresponds to."""
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return httpx2.ConnectTimeout(message, request=request)
    if isinstance(error, TimeoutError):  # aiohttp's read timeouts are TimeoutErrors too
        return httpx2.ReadTimeout(message, request=request)
    if isinstance(error, aiohttp.ClientConnectorError):
        return httpx2.ConnectError(message, request=request)
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx2.RemoteProtocolError(message, request=request)
    if reading:
        return httpx2.ReadError(message, request=request)
    return httpx2.NetworkError(message, request=request)


class _Body(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx2.Request) -> None:
        self.response = response
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as error:
            raise _error(error, self.request, reading=True) from error

    async def aclose(self) -> None:
        self.response.release()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """One aiohttp session, opened on the first request (in the event loop that sends it)."""

    def __init__(
        self,
        verify: ssl.SSLContext | bool,
        *,
        connections: int = 100,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.verify = verify
        self.connections = connections
        self.keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.connections, keepalive_timeout=self.keepalive_s, ssl=self.verify
            )
            # No cookies kept, no default headers: httpx2 sends what it means to.
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                auto_decompress=False,
            )
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        limits = request.extensions.get("timeout") or {}
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.get("connect"), sock_read=limits.get("read")
        )
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.decode("latin-1").lower() not in _NOT_FORWARDED
        ]
        body = await request.aread()
        try:
            response = await self._open().request(
                request.method,
                URL(str(request.url), encoded=True),  # as httpx2 encoded it, not again
                headers=headers,
                data=body or None,
                timeout=timeout,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            raise _error(error, request, reading=False) from error
        return httpx2.Response(
            status_code=response.status,
            headers=[(bytes(k), bytes(v)) for k, v in response.raw_headers],
            stream=_Body(response, request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
