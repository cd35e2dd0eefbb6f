"""When to restart a crashed process: exponential backoff that forgets after a healthy run.

The rule the kubelet applies to containers, in one place for the local stack's supervisor and
the pod runner: the first crash waits `first_s`, each further crash in a row twice as long, up to
`max_s`; once a process has been healthy (listening, or ready) for `healthy_after_s`, its next
crash starts again from `first_s`. Plain values and functions; the caller brings the clock
(monotonic seconds), so tests move time by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restarting."""

    first_s: float
    """The wait after a first crash (or the first after a healthy run)."""
    max_s: float
    """The longest wait."""
    healthy_after_s: float
    """How long a process must stay healthy for its next crash to count as a first one."""

    def delay(self, streak: int) -> float:
        """The wait after the `streak`-th crash in a row (1 for the first)."""
        return min(self.max_s, self.first_s * 2.0 ** max(0, streak - 1))


@dataclass(frozen=True)
class Crashes:
    """One process's restart history."""

    restarts: int = 0
    """Restarts so far (shown by `stack status` and the pod runner's annotation)."""
    streak: int = 0
    """Crashes since the process was last healthy long enough."""
    healthy_since: float | None = None
    """Since when the running process has been healthy without a break; None if it is not."""


def observed(crashes: Crashes, healthy: bool, now: float) -> Crashes:
    """The history after looking at the running process: healthy (since when) or not."""
    if not healthy:
        return replace(crashes, healthy_since=None)
    if crashes.healthy_since is None:
        return replace(crashes, healthy_since=now)
    return crashes


def crashed(policy: Backoff, crashes: Crashes, now: float) -> tuple[float, Crashes]:
    """After the process exited at `now`: how long to wait, and the history to keep."""
    recovered = (
        crashes.healthy_since is not None and now - crashes.healthy_since >= policy.healthy_after_s
    )
    streak = 1 if recovered else crashes.streak + 1
    after = Crashes(restarts=crashes.restarts + 1, streak=streak, healthy_since=None)
    return policy.delay(streak), after
