"""Keeps the local stack's processes running, as a process supervisor would.

Each `Child` knows how to start itself (the same command and environment every time) and how to
stop. `Supervisor.watch` looks at every child once: one that exited is started again after the
backoff of `devtools.backoff` (1 s doubling to 30 s, back to 1 s once it has been healthy, that
is running and listening on its port, for a minute), and each exit and restart is said on stdout
and in the child's own log. `run` watches until `stop`, which waits for a watch in progress, so
a restart never races the shutdown.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .backoff import Backoff, Crashes, crashed, observed
from .processes import port_in_use, stop

STACK_BACKOFF = Backoff(first_s=1.0, max_s=30.0, healthy_after_s=60.0)
"""A crashed component waits 1 s, 2 s, 4 s ... 30 s; a minute healthy and it is 1 s again."""


@dataclass
class Child:
    """One supervised process."""

    name: str
    port: int
    """Where it listens once healthy; 0 if it listens nowhere (healthy while it runs)."""
    log: Path
    launch: Callable[[], subprocess.Popen[bytes]]
    """Start it (again): the same command and environment as the first time."""
    process: subprocess.Popen[bytes] | None
    halt: Callable[[subprocess.Popen[bytes]], None] = field(default=lambda p: stop(p, 30))
    """Stop it (SIGTERM, SIGKILL after 30 s, by default)."""
    crashes: Crashes = field(default_factory=Crashes)
    restart_at: float | None = None
    """When it is due to start again, while it is down."""

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


class Supervisor:
    """Restarts the children that exit, until stopped; `on_change` is called after each exit
    and restart (the stack rewrites its state file)."""

    def __init__(
        self,
        policy: Backoff = STACK_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.on_change = on_change
        self.children: list[Child] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def add(self, child: Child) -> None:
        self.children.append(child)

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def run(self, interval_s: float = 0.5) -> None:
        """Watch until `stop` (or `stopping` is set, e.g. from a signal handler)."""
        while not self.stopping.is_set():
            self.watch()
            time.sleep(interval_s)

    def watch(self) -> None:
        """Look at every child once: note health, notice exits, restart those due."""
        with self._lock:
            for child in self.children:
                if self.stopping.is_set():
                    return
                self._watch(child, self.clock())

    def _watch(self, child: Child, now: float) -> None:
        if child.process is None:
            if child.restart_at is not None and now >= child.restart_at:
                self._restart(child)
            return
        code = child.process.poll()
        if code is None:
            healthy = child.port == 0 or port_in_use(child.port)
            child.crashes = observed(child.crashes, healthy, now)
            return
        self._down(child, now, f"exited (code {code})")

    def _down(self, child: Child, now: float, what: str) -> None:
        delay, child.crashes = crashed(self.policy, child.crashes, now)
        child.process, child.restart_at = None, now + delay
        self._say(child, f"{child.name} {what}; restarting in {delay:g}s")
        self.on_change()

    def _restart(self, child: Child) -> None:
        child.restart_at = None
        try:
            child.process = child.launch()
        except Exception as error:  # any failure to start is one more crash
            self._down(child, self.clock(), f"failed to start ({error})")
            return
        self._say(child, f"{child.name} restarted as pid {child.pid}")
        self.on_change()

    def _say(self, child: Child, message: str) -> None:
        print(message, flush=True)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        child.log.parent.mkdir(parents=True, exist_ok=True)
        with child.log.open("a") as log:
            log.write(f"{stamp} [stack] {message}\n")

    def stop(self) -> None:
        """No more restarts (waits for a watch in progress), then stop every child, newest
        first."""
        self.stopping.set()
        with self._lock:
            for child in reversed(self.children):
                if child.process is not None:
                    child.halt(child.process)
                child.process = None
