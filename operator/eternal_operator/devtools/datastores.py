"""PostgreSQL and Redis from the Debian packages, started by the project on loopback.

Each server gets a private data directory, a free port on 127.0.0.1 and its unix socket inside
its own directory, and runs as a child that dies with its parent (`processes.spawn`). Options
for tests (`fast=True`): fsync, full-page writes and synchronous commit off for PostgreSQL, no
persistence for Redis.

PostgreSQL refuses to run as root. When we are root (CI containers), `initdb` and `postgres`
run as an unprivileged user (`nobody` unless `EE_DATASTORE_USER` names another): a tiny
launcher drops the privileges, re-arms the parent-death signal (the kernel clears it on a
credential change) and execs the binary. If that user cannot reach the given directory (pytest
keeps root's temporary files under a 0700 directory), the cluster lives in a fresh
`/tmp/eternal-pg-*` directory instead, removed on stop. As a normal user nothing of this happens.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

from .processes import free_port, spawn, stop


def pg_bin(debian: Path = Path("/usr/lib/postgresql")) -> Path:
    """`EE_PG_BIN`, else the newest Debian PostgreSQL (`/usr/lib/postgresql/N/bin`), else PATH's."""
    if chosen := os.environ.get("EE_PG_BIN"):
        return Path(chosen)
    versions = sorted(
        (p for p in debian.glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    if versions:
        return versions[-1]
    on_path = shutil.which("postgres") or shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else Path("/usr/lib/postgresql/bin")


PG_BIN = pg_bin()
REDIS_SERVER = os.environ.get("EE_REDIS_SERVER", "redis-server")
START_TIMEOUT_SECONDS = 30.0

# Runs in the child: drop to the user, ask to die with the parent again, exec the server.
_LAUNCHER = (
    "import ctypes,os,signal,sys\n"
    "os.chdir('/')\n"
    "u=int(sys.argv[1]);g=int(sys.argv[2])\n"
    "os.setgroups([]);os.setgid(g);os.setuid(u)\n"
    "ctypes.CDLL('libc.so.6').prctl(1,signal.SIGKILL)\n"
    "os.execv(sys.argv[3],sys.argv[3:])\n"
)


class DatastoreError(RuntimeError):
    """A server could not be initialised or started; the message says why and where the log is."""


def _service_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(os.environ.get("EE_DATASTORE_USER", "nobody"))


def _as_user(argv: list[str], user: pwd.struct_passwd | None) -> list[str]:
    if user is None:
        return argv
    return [sys.executable, "-c", _LAUNCHER, str(user.pw_uid), str(user.pw_gid), *argv]


def _reachable(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` may traverse every directory above `path` (others' x bit, or owner)."""
    for parent in path.resolve().parents:
        info = parent.stat()
        if info.st_uid != user.pw_uid and not info.st_mode & 0o001:
            return False
    return True


def _wait_port(port: int, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DatastoreError(f"{what} exited with {process.returncode}; see {log}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise DatastoreError(f"{what} did not listen on 127.0.0.1:{port} in time; see {log}")


class PostgresServer:
    """A PostgreSQL cluster in `data_dir` (initialised on first start), on a free loopback port.

    `url` is `postgresql://USER@127.0.0.1:PORT/postgres` (trust authentication: loopback and a
    private socket directory only).
    """

    def __init__(self, data_dir: Path, *, port: int | None = None, fast: bool = True) -> None:
        self.base_dir = Path(data_dir)
        self.port = port
        self.fast = fast
        self.user = _service_user()
        self.process: subprocess.Popen[bytes] | None = None
        self._scratch: Path | None = None
        self.pgdata = self.base_dir / "pgdata"

    @property
    def db_user(self) -> str:
        return self.user.pw_name if self.user is not None else pwd.getpwuid(os.geteuid()).pw_name

    @property
    def url(self) -> str:
        return f"postgresql://{self.db_user}@127.0.0.1:{self.port}/postgres"

    def _place(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._scratch is not None:
            return  # started again (the stack's supervisor): the same cluster as before
        if self.user is not None and not _reachable(self.base_dir, self.user):
            self._scratch = Path(tempfile.mkdtemp(prefix="eternal-pg-"))
            self.pgdata = self._scratch / "pgdata"
        if self.user is not None:
            self.pgdata.mkdir(mode=0o700, exist_ok=True)
            os.chown(self.pgdata, self.user.pw_uid, self.user.pw_gid)
            if self._scratch is not None:
                os.chown(self._scratch, self.user.pw_uid, self.user.pw_gid)

    def _initdb(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        argv = [str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-U", self.db_user]
        argv += ["--auth=trust", "--encoding=UTF8", "--no-instructions"]
        if self.fast:
            argv.append("--no-sync")
        done = subprocess.run(
            _as_user(argv, self.user), capture_output=True, text=True, check=False, cwd="/"
        )
        if done.returncode != 0:
            raise DatastoreError(f"initdb failed ({done.returncode}): {done.stderr.strip()}")

    def start(self) -> Self:
        self._place()
        self._initdb()
        self.port = self.port or free_port()
        argv = [str(PG_BIN / "postgres"), "-D", str(self.pgdata), "-p", str(self.port)]
        argv += ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.pgdata}"]
        argv += ["-c", "max_connections=500", "-c", "shared_buffers=32MB"]  # 3 per runtime
        if self.fast:
            argv += ["-c", "fsync=off", "-c", "full_page_writes=off"]
            argv += ["-c", "synchronous_commit=off"]
        log = self.base_dir / "postgres.log"
        self.process = spawn(_as_user(argv, self.user), log)
        _wait_port(self.port, self.process, log, "postgres")
        self._wait_ready(log)
        return self

    def _wait_ready(self, log: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        argv = [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]
        while time.monotonic() < deadline:
            if subprocess.run(argv, capture_output=True, check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise DatastoreError(f"postgres is not accepting connections; see {log}")

    def create_database(self, name: str) -> str:
        """Create database `name` (if missing) and return its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        argv = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port)]
        argv += ["-U", self.db_user, "-d", "postgres", "-qAtc"]
        exists = subprocess.run(
            [*argv, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],  # noqa: S608 - checked name
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not exists:
            subprocess.run([*argv, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
        return f"postgresql://{self.db_user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace_seconds=15)
            self.process = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """A Redis server in `data_dir` on a free loopback port; `url` is `redis://127.0.0.1:PORT/0`."""

    def __init__(self, data_dir: Path, *, port: int | None = None, fast: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.fast = fast
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(self.data_dir), "--unixsocket", str(self.data_dir / "redis.sock")]
        argv += ["--daemonize", "no", "--protected-mode", "yes"]
        if self.fast:
            argv += ["--save", "", "--appendonly", "no"]
        else:
            argv += ["--appendonly", "yes"]
        log = self.data_dir / "redis.log"
        self.process = spawn(argv, log)
        _wait_port(self.port, self.process, log, "redis-server")
        return self

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(OSError):
                stop(self.process)
            self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
