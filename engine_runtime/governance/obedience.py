"""Obeying governance and the operator: the directive in `status.governance`, the halts of the
namespace's CircuitBreakerPolicies, the shutdown in `status.shutdown`, and `spec.suspend`.

`observe` and `observe_policy` run synchronously on every version the watchers see and flip the
flags the risk checks and the exposure gate read at once (halt, entries paused, size
multiplier), so no entry slips out while the slower work (cancel, flatten) runs in the
background. Halts go through the `HaltLatch`: heard from any source, lifted only by the policy
that issued them. A directive is applied when its sequence is new, persisted in the checkpoint
(a restart obeys it, and every halt it knew, before the API server answers) and recorded as a
governance event; `applied_sequence` then says so in the status.

A directive is heard from two places: the policy's own status (`status.directive`, written once
for the whole fleet, so every runtime hears a halt, a level or a reset from one watch event) and
the Engine's `status.governance` (the per-engine record the operator writes after). Of each
policy the newer word counts; of several policies governing this engine, the most restrictive
(`governance.conflicts.writer`, the operator's own rule for which policy writes the record).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from engine_runtime.strategies import interface as si
from eternal_kernel.api.v1alpha1 import LabelSelector
from eternal_kernel.api.v1alpha1.engine import GovernanceDirective, ShutdownRequest
from eternal_kernel.breaker.conflicts import writer

from .admission import entries_paused
from .latch import Halt, HaltLatch

log = logging.getLogger(__name__)


def _ms(text: object) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _essence(d: GovernanceDirective) -> tuple[object, ...]:
    """What the runtime acts on (the operator's bookkeeping fields beside it change nothing)."""
    return (d.policy, d.sequence, d.level, d.size_multiplier, d.entries_paused,
            d.close_directional, d.halt, d.stop_multiplier)  # fmt: skip


class Governor:
    def __init__(self, engine_name: str = "") -> None:
        self.engine_name = engine_name
        self.directive = GovernanceDirective()
        """The directive in force: the most restrictive newest word of the governing policies."""
        self.record: GovernanceDirective | None = None
        """The Engine's `status.governance` (or the checkpoint's directive, after a restart)."""
        self.published: dict[str, GovernanceDirective] = {}
        """What each policy governing this engine publishes in its own status."""
        self.fleet_recorded: dict[str, int] = {}
        """Of each policy that says it, the sequence whose records its status says are all
        written (`recordedSequence`)."""
        self.latch = HaltLatch()
        self.labels: dict[str, str] = {}
        self.applied_sequence: int | None = None
        self.held_sequence: int | None = None
        """What reports show as applied while `holding`: the sequence before the directive
        whose report waits for the Engine's record, so a heartbeat meanwhile shows no word the
        record lacks."""
        self.holding = False
        self.flat: bool | None = None
        self.residue: list[str] = []
        self.confirmed_ms = 0
        """Governance is known as of this wall-clock time (ms); 0: never."""
        self.shutdown_requested_at: datetime | None = None
        self.shutdown_flatten = False
        self.shutdown_done_at: datetime | None = None
        self.suspended = False
        self.terminating = False
        """The process is stopping (SIGTERM): nothing new goes out, whatever the API says."""
        self.changed = asyncio.Event()
        self.recorded = asyncio.Event()
        """Set at each version of our Engine that carries a record (`record`), and of a policy
        that says which records it has written (`fleet_recorded`)."""
        self.awaited: Callable[[GovernanceDirective], bool] | None = None
        """What the Engine's own record must show before the runtime reports what it applied
        (a halt carried out, a directive heard from its policy first), while it waits for it;
        the report also waits until the record's policy has written its fleet's records."""
        self._pending: GovernanceDirective | None = None
        self._halt_pending: Halt | None = None
        self._pending_shutdown = False
        self.wake = asyncio.Event()

    # what the risk checks and the gate read -----------------------------------------------
    @property
    def halted(self) -> bool:
        return self.latch.active

    @property
    def carrying_out_halt(self) -> bool:
        """A halt is in force and its flatten has not finished yet (it reports once it has)."""
        return self.halted and self.flat is None

    @property
    def awaiting_record(self) -> bool:
        """A report waits for the Engine's own record of what was applied (`awaited`)."""
        return self.awaited is not None

    @property
    def reported_sequence(self) -> int | None:
        """The applied sequence a status report shows (`held_sequence` while `holding`)."""
        return self.held_sequence if self.holding else self.applied_sequence

    def hold_report(self, sequence: int | None) -> None:
        """Reports show `sequence` as applied until `release_report` (a hold in place keeps
        its own: the record lacks the newer word too)."""
        if not self.holding:
            self.held_sequence, self.holding = sequence, True

    def release_report(self) -> None:
        self.held_sequence, self.holding = None, False

    def record_shows_awaited(self) -> bool:
        """The Engine's own record shows what a report waits for (`awaited`), and its policy
        has written the records of the rest of the fleet; or no report waits."""
        if self.awaited is None:
            return True
        record = self.record
        return record is not None and self.awaited(record) and self._fleet_recorded(record.policy)

    def _fleet_recorded(self, policy: str | None) -> bool:
        """The policy has written every engine's record of the newest word it publishes (or
        it does not say, or it publishes none to this engine)."""
        published = self.published.get(policy or "")
        recorded = self.fleet_recorded.get(policy or "")
        return published is None or recorded is None or recorded >= published.sequence

    @property
    def reports_held(self) -> bool:
        """An order's end or a fill waits for the halt's own report (one status write per
        engine of a fleet halting together, not one more for each order the halt ends)."""
        return self.carrying_out_halt or self.awaiting_record

    @property
    def entries_paused(self) -> bool:
        return self.directive.entries_paused or self.halted

    @property
    def stopping(self) -> bool:
        """No new orders at all: a shutdown or suspend is under way or done, or the process is
        stopping."""
        return self.shutdown_requested_at is not None or self.suspended or self.terminating

    @property
    def size_multiplier(self) -> Decimal:
        """Entries are refused outright while halted (the risk checks say why), so this is the
        directive's own multiplier."""
        return self.directive.size_multiplier

    def for_strategy(self) -> si.GovernanceDirective:
        """What the strategy is told: the directive in force, with the latch's halt and the
        pause it implies, and a pause when the multiplier lets no entry through (the strategies'
        seam, the same type the backtester hands them; the multiplier itself is applied to the
        orders by the runner, `admission.admit`, not by the strategies)."""
        d = self.directive
        return si.GovernanceDirective(
            level=d.level,
            size_multiplier=self.size_multiplier,
            entries_paused=entries_paused(self.entries_paused, self.size_multiplier),
            close_directional=d.close_directional,
            halt=self.halted,
            stop_multiplier=d.stop_multiplier,
            reason=d.reason or "",
        )

    # input -----------------------------------------------------------------------------
    def restore(self, saved: Mapping[str, Any] | None) -> None:
        """The checkpoint: the last directive and every halt, obeyed before the API answers."""
        if not saved:
            return
        raw = saved.get("directive") if "halts" in saved else saved  # older checkpoints
        try:
            self.directive = self.record = GovernanceDirective.model_validate(raw or {})
        except ValidationError:
            log.warning("checkpointed directive is invalid; ignoring it")
        else:
            self.applied_sequence = self.directive.sequence
            self._hear_directive(self.directive)
        self.latch.load(list(saved.get("halts") or []))
        if self.halted:
            self._halt_pending = self.latch.newest()  # re-assert: the account may not be flat
            self.wake.set()
        elif self.directive.close_directional:
            self._pending = self.directive
            self.wake.set()

    def checkpoint(self) -> dict[str, Any]:
        return {
            "directive": self.directive.model_dump(mode="json", by_alias=True),
            "halts": self.latch.dump(),
        }

    def confirm(self, as_of_ms: int) -> None:
        """The API server's state of our Engine and policies is known as of this time."""
        self.confirmed_ms = max(self.confirmed_ms, as_of_ms)

    def observe(self, engine: dict[str, Any]) -> None:
        """A version of our Engine (watch, read, or the answer to our own status write)."""
        meta = engine.get("metadata") or {}
        self.labels = dict(meta.get("labels") or {})
        status = engine.get("status") or {}
        # A version carrying our own heartbeat shows governance as of that heartbeat at least.
        beat = _ms((status.get("runtime") or {}).get("heartbeat"))
        raw = status.get("governance")
        if raw:
            try:
                directive = GovernanceDirective.model_validate(raw)
            except ValidationError as error:
                log.warning("unreadable directive: %s", error)
            else:
                self.record = directive
                self.recorded.set()
                self._decide()
                self._hear_directive(directive)
        self._observe_shutdown(engine, status)
        if beat is not None:
            self.confirm(beat)

    def observe_policy(self, policy: dict[str, Any]) -> None:
        """A CircuitBreakerPolicy of our namespace: its latched halt counts if it governs us
        (its selector matches our labels, or it halted us and has not been reset)."""
        name = str((policy.get("metadata") or {}).get("name") or "")
        status = policy.get("status") or {}
        try:
            selector = LabelSelector.model_validate(
                (policy.get("spec") or {}).get("selector") or {}
            )
        except ValidationError:
            selector = None
        governs = (selector is not None and selector.matches(self.labels)) or (
            self.engine_name in (status.get("haltedEngines") or [])
        )
        published = status.get("directive")
        self.published.pop(name, None)
        recorded = status.get("recordedSequence")
        if isinstance(recorded, int):
            self.fleet_recorded[name] = recorded
        else:
            self.fleet_recorded.pop(name, None)
        if governs and isinstance(published, dict):
            try:
                self.published[name] = GovernanceDirective.model_validate(
                    {**published, "policy": name}
                )
            except ValidationError as error:
                log.warning("unreadable directive of policy %s: %s", name, error)
        self._decide()
        self.recorded.set()  # a report waiting may wait for this policy's records
        self._hear(
            name,
            int(status.get("directiveSequence") or 0),
            halt=bool(status.get("halted")),
            reason=str(status.get("haltReason") or "halted"),
            governs=governs,
        )

    def forget_policy(self, policy: dict[str, Any]) -> None:
        """A policy deleted: what it published no longer counts (its halt stays latched until
        the operator's releasing word, written into the Engine, lifts it)."""
        name = str((policy.get("metadata") or {}).get("name") or "")
        self.latch.forget(name)
        self.fleet_recorded.pop(name, None)
        if self.published.pop(name, None):
            self._decide()
        self.recorded.set()  # a report waiting no longer waits for this policy's records

    def _decide(self) -> None:
        """The directive in force from what the policies and the Engine say; acted on when what
        the runtime does changes (the flags take effect now, the rest in the background)."""
        words = dict(self.published)
        record = self.record
        if record is not None:
            policy = record.policy or ""
            if policy not in words or record.sequence >= words[policy].sequence:
                words[policy] = record  # the record carries the bookkeeping of the same word
        if not words:
            return
        contents = {p: d.model_dump(mode="json", by_alias=True) for p, d in words.items()}
        directive = words[writer(contents)]
        if _essence(directive) == _essence(self.directive):
            self.directive = directive  # the same word, maybe with the record's bookkeeping
            return
        self.directive = directive
        self._pending = directive
        if directive.close_directional and not directive.halt:
            self.flat = None
        self.wake.set()

    def _hear_directive(self, directive: GovernanceDirective) -> None:
        self._hear(
            directive.policy or "",
            directive.sequence,
            halt=directive.halt,
            reason=directive.reason or "halt",
            governs=True,
        )

    def _hear(self, policy: str, sequence: int, *, halt: bool, reason: str, governs: bool) -> None:
        was = self.latch.active
        if not self.latch.hear(policy, sequence, halt=halt, reason=reason, governs=governs):
            return
        if self.latch.active and not was:
            log.warning("halt in force", extra={"policy": policy, "sequence": sequence})
            self._halt_pending = self.latch.newest()
            self.flat = None
            self.wake.set()
        elif not self.latch.active:
            log.info("halt lifted", extra={"policy": policy, "sequence": sequence})
            self.flat = None
            self.residue = []
        self.changed.set()

    def _observe_shutdown(self, engine: dict[str, Any], status: dict[str, Any]) -> None:
        suspend = bool((engine.get("spec") or {}).get("suspend"))
        raw = status.get("shutdown")
        request = None
        if raw:
            try:
                request = ShutdownRequest.model_validate(raw)
            except ValidationError:
                request = None
        if request is not None and request.completed_at is None:
            if self.shutdown_requested_at != request.requested_at:
                self.shutdown_requested_at = request.requested_at
                self.shutdown_flatten = request.flatten
                self._pending_shutdown = True
                self.wake.set()
        elif suspend and not self.suspended:
            self.suspended = True
            self._pending_shutdown = True
            self.wake.set()
        elif request is None and not suspend and (self.suspended or self.shutdown_requested_at):
            log.info("shutdown withdrawn: trading resumes")
            self.suspended = False
            self.shutdown_requested_at = None
            self.shutdown_done_at = None
        self.suspended = suspend or (self.suspended and request is not None)

    def take_directive(self) -> GovernanceDirective | None:
        pending, self._pending = self._pending, None
        return pending

    def take_halt(self) -> Halt | None:
        """The halt to carry out now (flatten), if one newly took effect or is retried."""
        pending, self._halt_pending = self._halt_pending, None
        return pending if self.halted else None

    def take_shutdown(self) -> bool:
        pending, self._pending_shutdown = self._pending_shutdown, False
        return pending

    def request_halt_retry(self) -> None:
        self._halt_pending = self.latch.newest()
        self.wake.set()

    def request_directive_retry(self, directive: GovernanceDirective) -> None:
        self._pending = directive
        self.wake.set()

    def request_shutdown_retry(self) -> None:
        self._pending_shutdown = True
        self.wake.set()

    def mark_applied(self, directive: GovernanceDirective) -> None:
        self.applied_sequence = directive.sequence
        self.changed.set()

    def mark_shutdown_done(self) -> None:
        self.shutdown_done_at = datetime.now(UTC)
        self.changed.set()
