"""A TCP forwarder on loopback that can cut the line: a network partition on demand.

`TcpProxy(target_port).start()` listens on a free 127.0.0.1 port and forwards every connection
to the target, bytes untouched (TLS passes through). `cut()` drops every open connection and
refuses new ones until `heal()`: what a process behind it sees of an unreachable server. It
runs on a thread of its own, so a test or a bench can use it from plain code.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from .processes import free_port


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._cut = False

    def start(self) -> int:
        """Listen; the port to connect to instead of the target's."""
        self._thread.start()
        self.port = free_port()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self.port

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._open |= {writer, upstream}
        await asyncio.gather(
            self._pipe(reader, upstream), self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )  # fmt: skip
        self._open -= {writer, upstream}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def _drop_all(self) -> None:
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._open.clear()

    def cut(self) -> None:
        """Drop every connection; refuse new ones until `heal`."""
        self._cut = True
        self.cuts += 1
        self._loop.call_soon_threadsafe(self._drop_all)

    def heal(self) -> None:
        self._cut = False

    def stop(self) -> None:
        async def close() -> None:
            self._drop_all()
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
