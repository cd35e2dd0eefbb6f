"""Every halt in force for this engine, by the policy that issued it.

A runtime hears governance from more than one place: the directive in its Engine's status, the
status of each CircuitBreakerPolicy of its namespace, and its own checkpoint after a restart.
Whatever it hears, a halt it has heard stays in force until the policy that issued it says
otherwise: a word from that same policy (its directive or its status) with a higher sequence
and no halt. A directive from another policy, an older sequence, or an unreadable write lifts
nothing, so two policies over one engine cannot undo each other's halt, and the most
restrictive word wins until each policy has released its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Halt:
    policy: str
    sequence: int
    reason: str

    @property
    def purpose(self) -> str:
        """The flatten this halt asks for, as order ids spell it (the operator derives the same
        from the directive: `halt:<policy>:<sequence>`)."""
        return f"halt:{self.policy}:{self.sequence}"


class HaltLatch:
    def __init__(self) -> None:
        self._halts: dict[str, Halt] = {}
        self._lifted: dict[str, int] = {}
        """The sequence of each policy's last release: its older words (a record written late,
        a watch event delivered late) halt nothing again."""

    @property
    def active(self) -> bool:
        return bool(self._halts)

    @property
    def halts(self) -> tuple[Halt, ...]:
        return tuple(sorted(self._halts.values(), key=lambda h: h.policy))

    def newest(self) -> Halt | None:
        """The halt to act on: the policy's latest, by sequence, then by policy name."""
        return max(self._halts.values(), key=lambda h: (h.sequence, h.policy), default=None)

    def reason(self) -> str:
        return "; ".join(f"{h.policy or 'governance'}: {h.reason}" for h in self.halts)

    def hear(
        self, policy: str, sequence: int, *, halt: bool, reason: str, governs: bool = True
    ) -> bool:
        """One policy's word. A halt latches (when that policy governs this engine); no halt
        lifts that policy's own halt, and only with a higher sequence. True if it changed."""
        current = self._halts.get(policy)
        if halt:
            if not governs or (current is not None and sequence <= current.sequence):
                return False
            if sequence <= self._lifted.get(policy, -1):
                return False
            self._halts[policy] = Halt(policy, sequence, reason)
            return current is None
        if current is not None and sequence > current.sequence:
            del self._halts[policy]
            self._lifted[policy] = sequence
            return True
        return False

    def forget(self, policy: str) -> None:
        """A deleted policy: a new one of that name starts its sequence afresh."""
        self._lifted.pop(policy, None)

    def dump(self) -> list[dict[str, Any]]:
        return [asdict(h) for h in self.halts]

    def load(self, saved: list[dict[str, Any]]) -> None:
        for item in saved:
            halt = Halt(str(item["policy"]), int(item["sequence"]), str(item.get("reason", "")))
            self.hear(halt.policy, halt.sequence, halt=True, reason=halt.reason)
