"""One governance loop per CircuitBreakerPolicy.

Each tick: select the engines (the selector's, plus every engine a latched halt reached), read
their equity, evaluate, publish the policy's directive in its status, tell every engine it
writes the directive whose content changed (status.governance, never spec), enforce halts, and
record what changed (Events, metrics, the store). Only what changed is written; equity figures
for `kubectl get cbp` at most every few seconds.

An engine selected by several policies is a conflict (a condition on the policy, the engine's
directive names the others, an Event): only the policy with the most restrictive directive
writes that engine (`governance.conflicts`), so the policies never undo each other.

The halting fact is written once, in the policy's status: every runtime hears it from its watch
of the policies, and the operator flattens every account it governs itself at once, racing
them (`HaltEnforcer.flatten_now`). Each engine's `status.governance`, the durable per-engine
record, is written after: once the operator's own flatten is done (at most `RECORD_AFTER`
later), so a fleet's worth of writes does not stand between the halt and the venue. Each record
carries the phase and conditions it gives the Engine where its own status decides them
(`shown_with_record`, the phase pass's rule): one write per engine shows the halt or the lift.
The policy's status then says the records are written (`recordedSequence`): each runtime
reports what it applied once it does, so a fleet's reports do not slow the records.

A halt is enforced from persisted state: each engine's directive carries `haltedAt`, so a
restarted or newly elected operator keeps the deadline. Past it, the operator reads the account
itself: a runtime that confirmed flat and is, is marked verified; otherwise the operator
flattens the whole account through the venue and scales the runtime to zero.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from eternal_kernel.api.v1alpha1 import (
    GROUP,
    CircuitBreakerPolicySpec,
    LabelSelector,
)
from eternal_kernel.api.v1alpha1.policy import CircuitBreakerPolicyStatus
from eternal_kernel.breaker import codec
from eternal_kernel.breaker.conflicts import writer
from eternal_kernel.breaker.evaluate import Reset, State, Step, evaluate
from eternal_operator.controllers.engine.reconcile import Context, Outcome, shown_with_record
from eternal_operator.kube import KubeError
from eternal_operator.metrics import (
    GOVERNANCE_DIRECTIVES,
    GOVERNANCE_HALTED,
    GOVERNANCE_LEVEL,
    PORTFOLIO_DRAWDOWN,
    PORTFOLIO_HWM,
    PORTFOLIO_NAV,
    PORTFOLIO_NAV_PER_UNIT,
)

from . import sources
from .enforce import ENGINES_API, EventSink, HaltEnforcer, patch_engine, stamp
from .measure import VenueEquity

log = logging.getLogger(__name__)

RESET_ANNOTATION = f"{GROUP}/reset"
RESET_FORCE_ANNOTATION = f"{GROUP}/reset-force"
DISPLAY_EVERY = timedelta(seconds=5)
RECORD_AFTER = timedelta(seconds=0.5)
"""The longest the engines' records of a new halt wait for the operator's own flatten."""
RECORDED = "recordedSequence"
"""The policy's status field that says every engine's record of a sequence is written."""
RECORDS_IN_FLIGHT = 32
"""Engine records written at once: a fleet's worth together would meet the API server's limit
on requests in flight (429) and come back slower."""
HISTORY = 20
DISPLAY_FIELDS = {"equity", "navPerUnit", "drawdown", "unknownEngines", "engines", "conditions"}


SHOWN_FROM = ("phase", "conditions", "shutdown", "runtime")
"""What of an Engine's status its phase and conditions are shown from (`EngineSnapshot.status`)."""


@dataclass
class EngineSnapshot:
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]
    runtime: dict[str, Any] | None
    governance: dict[str, Any] | None
    uid: str
    allocation: dict[str, Any] | None = None
    status: dict[str, Any] = field(default_factory=dict)
    """The parts of its status named in SHOWN_FROM: what its phase is shown from."""
    generation: int = 0

    def body(self, namespace: str) -> dict[str, Any]:
        """The Engine as the index last saw it, shaped as the API serves it."""
        meta = {"name": self.name, "namespace": namespace, "uid": self.uid,
                "generation": self.generation}  # fmt: skip
        return {"metadata": meta, "spec": self.spec,
                "status": {**self.status, "governance": self.governance}}  # fmt: skip


@dataclass
class PolicySnapshot:
    """A policy of the namespace as the others see it: what it selects and what it says."""

    name: str
    selector: dict[str, Any]
    halted: bool = False
    halted_engines: list[str] = field(default_factory=list)
    directive: dict[str, Any] | None = None
    recorded: int | None = None
    """The sequence whose every engine's record is written (`recordedSequence`)."""
    emergency: bool = False
    """Its spec asks for an emergency halt (`spec.emergencyHalt`), latched or not yet."""

    def governs(self, engine: EngineSnapshot) -> bool:
        if self.halted and engine.name in self.halted_engines:
            return True
        try:
            return LabelSelector.model_validate(self.selector).matches(engine.labels)
        except ValidationError:
            return False


@dataclass
class Governor:
    ctx: Context
    namespace: str
    name: str
    redis: Any | None = None
    store: Any | None = None
    events: EventSink = field(default=lambda *_: None)
    state: State | None = None
    _written: dict[str, Any] = field(default_factory=dict)
    _displayed_at: datetime | None = None
    _issued: dict[str, Any] | None = None
    _issued_at: datetime | None = None
    _conflicts: dict[str, list[str]] = field(default_factory=dict)
    _state_changed: bool = False
    _at_once: asyncio.Task[None] | None = None
    _at_once_at: datetime | None = None
    _told: dict[str, tuple[Any, dict[str, Any]]] = field(default_factory=dict)
    """Engine -> (its record as seen before this governor wrote, what it wrote), until the
    Engine index shows something else: the write's own watch event, or anything newer."""
    venue_equity: VenueEquity = field(init=False)
    enforcer: HaltEnforcer = field(init=False)

    def __post_init__(self) -> None:
        self.venue_equity = VenueEquity(self.ctx, self.namespace)
        self.enforcer = HaltEnforcer(self.ctx, self.namespace, self.name, self.events)

    async def tick(
        self,
        body: Mapping[str, Any],
        engines: list[EngineSnapshot],
        transfers: list[Mapping[str, Any]],
        peers: list[PolicySnapshot] | None = None,
    ) -> Step:
        now = self.ctx.clock()
        spec = CircuitBreakerPolicySpec.model_validate(body.get("spec") or {})
        status = CircuitBreakerPolicyStatus.model_validate(body.get("status") or {})
        if self.state is None:
            self.state = await self._restore(status)
            # What the status holds now, so a state restored from PostgreSQL is written back.
            self._written = codec.state_fields(codec.state_from_status(status))
            if status.directive is not None:
                self._written["directive"] = status.directive.model_dump(
                    mode="json", by_alias=True, exclude_none=True
                )
            self._written[RECORDED] = status.recorded_sequence
        latched = set(self.state.halted_engines) if self.state.halted else set()
        governed = sorted(
            (e for e in engines if spec.selector.matches(e.labels) or e.name in latched),
            key=lambda e: e.name,
        )
        names = {e.name for e in governed}
        reported = await sources.observe(
            self.namespace, [(e.name, e.runtime) for e in governed], self.redis
        )
        # An engine whose runtime has gone quiet is measured on the venue by the operator.
        observations = [
            self.venue_equity.freshest(o, e.spec, e.uid, now)
            for o, e in zip(reported, governed, strict=True)
        ]
        self.venue_equity.forget(names)
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        reset = Reset(
            annotations.get(RESET_ANNOTATION), annotations.get(RESET_FORCE_ANNOTATION) == "true"
        )
        step = evaluate(
            spec=spec,
            state=self.state,
            observations=observations,
            flows=sources.flows(transfers, names),
            reset=reset,
            now=now,
            moving=sources.moving(transfers, names),
        )
        content = codec.directive_content(step.directive, self.name)
        if content != self._issued:
            differs = any(not codec.same_directive(e.governance, content) for e in governed)
            if self._issued is not None or differs:
                step.state = replace(step.state, sequence=step.state.sequence + 1)
                self._issued_at = now
            self._issued = content
        held = tuple(sorted(set(step.state.halted_engines) | names)) if step.state.halted else ()
        self.state = step.state = replace(step.state, halted_engines=held)
        others = {e.name: [p.name for p in peers or () if p.name != self.name and p.governs(e)]
                  for e in governed}  # fmt: skip
        conflicts = {n: sorted(o) for n, o in others.items() if o}
        published = self._published(content, now)
        by_name = {p.name: p.directive for p in peers or ()}
        mine = [
            e
            for e in governed
            if writer({self.name: published,
                       **{o: _newest(by_name.get(o), e.governance, o) for o in others[e.name]}})
            == self.name
        ]  # fmt: skip
        # The policy's own status first: the halting fact is written once, before the engines,
        # whose records of a new halt wait for the operator's own flatten.
        await self._publish(step, status, governed, published, conflicts, now)
        await self._flatten_first(step, mine, now)
        await self._tell_engines(mine, content, conflicts, now)
        await self._release_strays(engines, names)
        await self._mark_recorded()
        self.enforcer.enforce(spec.halt_deadline_seconds, mine if step.directive.halt else [], now)
        self._account(step, conflicts)
        if self.store is not None and self._state_changed:
            await self.store.save(self.namespace, self.name, self.state, step.changes, now)
        return step

    async def _flatten_first(self, step: Step, mine: list[EngineSnapshot], now: datetime) -> None:
        """On a halt new to this operator, flatten every account it governs at once, and wait
        for that (RECORD_AFTER at most, then it goes on in the background) before the records."""
        assert self.state is not None
        if not step.directive.halt:
            self._at_once = self._at_once_at = None
            return
        if self._at_once is None:
            purpose = f"halt:{self.name}:{self.state.sequence}"
            self._at_once = asyncio.create_task(self.enforcer.flatten_now(mine, purpose))
            self._at_once_at = now
        waited = now - (self._at_once_at or now)
        if not self._at_once.done() and waited < RECORD_AFTER:
            await asyncio.wait({self._at_once}, timeout=(RECORD_AFTER - waited).total_seconds())

    async def _restore(self, status: CircuitBreakerPolicyStatus) -> State:
        state = codec.state_from_status(status)
        if state.book is None and self.store is not None:
            stored = await self.store.load(self.namespace, self.name)
            if stored is not None:
                log.info(
                    "governance %s/%s: state restored from PostgreSQL", self.namespace, self.name
                )
                return stored  # type: ignore[no-any-return]
        return state

    def _published(self, content: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The directive as the policy's status publishes it."""
        assert self.state is not None
        out = {k: v for k, v in content.items() if k != "policy"}
        return {**out, "sequence": self.state.sequence, "issuedAt": stamp(self._issued_at or now)}

    def _engine_patch(
        self,
        engine: EngineSnapshot,
        content: dict[str, Any],
        conflicts: list[str],
        now: datetime,
    ) -> dict[str, Any]:
        """The directive for one engine: the policy's, plus the engine's own bookkeeping. While
        a halt holds (also across a new sequence), its start and what was done stay."""
        assert self.state is not None
        before = engine.governance or {}
        holding = bool(content["halt"] and before.get("halt") and before.get("haltedAt"))
        started = stamp(now) if content["halt"] else None
        return {
            **content,
            "sequence": self.state.sequence,
            "issuedAt": stamp(self._issued_at or now),
            "conflicts": conflicts,
            "haltedAt": before["haltedAt"] if holding else started,
            "runtimeStopped": bool(before.get("runtimeStopped")) if holding else False,
            "verifiedFlatAt": before.get("verifiedFlatAt") if holding else None,
        }

    async def _tell_engines(
        self,
        mine: list[EngineSnapshot],
        content: dict[str, Any],
        conflicts: dict[str, list[str]],
        now: datetime,
    ) -> None:
        assert self.state is not None
        for e in mine:
            before, wrote = self._told.get(e.name, (None, None))
            if wrote is None:
                continue
            if e.governance == before:  # an event from before the write, not yet ours: the
                e.governance = wrote  # index lags the write (a heartbeat committed before it)
            else:
                del self._told[e.name]
        stale = [
            e
            for e in mine
            if not codec.same_directive(e.governance, content)
            or (e.governance or {}).get("sequence") != self.state.sequence
            or sorted((e.governance or {}).get("conflicts") or []) != conflicts.get(e.name, [])
        ]
        if not stale:
            return
        patches = [self._engine_patch(e, content, conflicts.get(e.name, []), now) for e in stale]
        # A record carries the phase it gives the Engine (the phase pass's own rule).
        shown = [shown_with_record(self.ctx, e.body(self.namespace), p)
                 for e, p in zip(stale, patches, strict=True)]  # fmt: skip
        slots = asyncio.Semaphore(RECORDS_IN_FLIGHT)

        async def write(engine: EngineSnapshot, patch: dict[str, Any], also: Outcome) -> None:
            async with slots:
                await patch_engine(self.ctx, self.namespace, engine.name,
                                   {"governance": patch, **also.status})  # fmt: skip

        results = await asyncio.gather(
            *(write(e, p, o) for e, p, o in zip(stale, patches, shown, strict=True)),
            return_exceptions=True,
        )
        GOVERNANCE_DIRECTIVES.labels(self.namespace, self.name).inc(len(stale))
        for engine, patch, also, result in zip(stale, patches, shown, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("governance: directive to %s failed: %s", engine.name, result)
                continue
            if not codec.same_directive(engine.governance, content):
                kind = "Warning" if content["halt"] else "Normal"
                message = f"level {content['level']}: {content['reason']}"
                self.events(kind, "Directive", message, engine.name)
            for event in also.events:
                self.events(event.type, event.reason, event.message, engine.name)
            written = {k: v for k, v in patch.items() if v is not None}
            self._told[engine.name] = (copy.deepcopy(engine.governance), written)
            engine.governance = written

    async def _release_strays(self, engines: list[EngineSnapshot], governed: set[str]) -> None:
        """Engines that carry this policy's restricting directive but that it no longer governs
        (relabelled, its selector changed, its halt reset) get its releasing word."""
        assert self.state is not None
        for engine in engines:
            current = engine.governance or {}
            if (
                engine.name in governed
                or current.get("policy") != self.name
                or codec.neutral(current)
            ):
                continue
            sequence = max(self.state.sequence, int(current.get("sequence") or 0) + 1)
            patch = release_patch(self.name, sequence, f"no longer governed by {self.name}")
            try:
                await patch_engine(self.ctx, self.namespace, engine.name, patch)
            except KubeError as error:
                log.warning("governance: releasing %s failed: %s", engine.name, error)
                continue
            engine.governance = {k: v for k, v in patch["governance"].items() if v is not None}
            self.events("Normal", "Released", f"no longer governed by {self.name}", engine.name)

    async def _publish(
        self,
        step: Step,
        status: CircuitBreakerPolicyStatus,
        governed: list[EngineSnapshot],
        published: dict[str, Any],
        conflicts: dict[str, list[str]],
        now: datetime,
    ) -> None:
        """Write what changed of the policy's status: the state, the directive, the display."""
        assert self.state is not None
        fields = {**codec.state_fields(self.state), "directive": published}
        patch = {k: v for k, v in fields.items() if self._written.get(k) != v}
        self._state_changed = bool(step.changes or patch.keys() - {"directive"})
        if step.changes:
            history = [h.model_dump(mode="json", by_alias=True) for h in status.history]
            for change in step.changes:
                history.append({
                    "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "fromLevel": change.from_level,
                    "toLevel": change.to_level, "drawdown": f"{change.drawdown:.4f}",
                    "reason": change.reason[:512],
                })  # fmt: skip
            patch["history"] = history[-HISTORY:]
        engines = [e.name for e in governed]
        if engines != status.engines:
            patch["engines"] = engines
        condition = _conflict_condition(conflicts, status, now)
        if condition is not None:
            patch["conditions"] = [condition]
        if patch or self._displayed_at is None or now - self._displayed_at >= DISPLAY_EVERY:
            patch.update(codec.display_fields(step))
            self._displayed_at = now
        await self._write_status(patch, fields)

    async def _mark_recorded(self) -> None:
        """Once the engines' records are written: their sequence, in the policy's status. Each
        runtime reports a word once this shows it, so a fleet's reports do not slow the records
        still going out (docs/runtime.md)."""
        assert self.state is not None
        if self._written.get(RECORDED) != self.state.sequence:
            await self._write_status({RECORDED: self.state.sequence})

    async def _write_status(
        self, patch: dict[str, Any], holds: dict[str, Any] | None = None
    ) -> None:
        """Merge `patch` into the policy's status; once written, the status holds `holds` (the
        patch itself by default), which is not written again."""
        if not patch:
            return
        try:
            await self.ctx.kube.merge_patch(
                ENGINES_API, "CircuitBreakerPolicy", self.namespace, self.name,
                {"status": patch}, subresource="status",
            )  # fmt: skip
            self._written.update(patch if holds is None else holds)
        except KubeError as error:
            log.warning("governance: status of %s not written: %s", self.name, error)

    def _account(self, step: Step, conflicts: dict[str, list[str]]) -> None:
        """Events and metrics of this tick."""
        assert self.state is not None
        for kind, reason, message in step.events:
            # On the policy; each engine the change reaches gets its own `Directive` Event.
            self.events(kind, reason, message, None)
        if conflicts != self._conflicts:
            for engine, others in sorted(conflicts.items()):
                if self._conflicts.get(engine) != others:
                    message = (
                        f"{engine} is also selected by {', '.join(others)}: one engine should "
                        "have one policy; the most restrictive directive applies meanwhile"
                    )
                    self.events("Warning", "PolicyConflict", message, None)
                    if self.name < min(others):  # one Event on the engine, not one per policy
                        self.events("Warning", "PolicyConflict", message, engine)
            for engine in sorted(set(self._conflicts) - set(conflicts)):
                self.events("Normal", "ConflictResolved", f"{engine}: one policy", None)
            self._conflicts = conflicts
        GOVERNANCE_LEVEL.labels(self.namespace, self.name).set(self.state.level)
        GOVERNANCE_HALTED.labels(self.namespace, self.name).set(1 if self.state.halted else 0)
        if step.nav_per_unit is not None and self.state.book is not None:
            PORTFOLIO_NAV.labels(self.namespace, self.name).set(float(step.equity or 0))
            PORTFOLIO_DRAWDOWN.labels(self.namespace, self.name).set(float(step.drawdown or 0))
            PORTFOLIO_NAV_PER_UNIT.labels(self.namespace, self.name).set(float(step.nav_per_unit))
            PORTFOLIO_HWM.labels(self.namespace, self.name).set(
                float(self.state.book.high_water_mark)
            )


def _newest(
    published: dict[str, Any] | None, record: dict[str, Any] | None, policy: str
) -> dict[str, Any] | None:
    """Another policy's word on one engine: what its status publishes, or the engine's record of
    it when that is newer (its status not yet in this operator's index while the engine's record
    already is), so a halt another policy wrote is never overwritten by a weaker directive."""
    if not record or record.get("policy") != policy:
        return published
    if published is None or int(record.get("sequence") or 0) > int(published.get("sequence") or 0):
        return record
    return published


def _conflict_condition(
    conflicts: dict[str, list[str]], status: CircuitBreakerPolicyStatus, now: datetime
) -> dict[str, Any] | None:
    """The policy's `Conflict` condition, when its status changes (else None)."""
    before = next((c for c in status.conditions if c.type == "Conflict"), None)
    state = "True" if conflicts else "False"
    if conflicts:
        pairs = "; ".join(f"{e}: also {', '.join(o)}" for e, o in sorted(conflicts.items()))
        reason, message = "EngineSelectedTwice", pairs[:2000]
    else:
        reason, message = "OnePolicyPerEngine", "no engine of this policy is selected by another"
    if before is not None and before.status.value == state and before.message == message:
        return None
    return {
        "type": "Conflict",
        "status": state,
        "reason": reason,
        "message": message,
        "lastTransitionTime": stamp(now)
        if before is None or before.status.value != state
        else stamp(before.last_transition_time),
    }


def release_patch(policy: str, sequence: int, reason: str) -> dict[str, Any]:
    """The directive that releases an engine from a policy that no longer governs it (deleted,
    or its selector and its latch no longer reach the engine): that policy's word, with a
    sequence above the one it last wrote there, lifts its halt at the runtime."""
    return {
        "governance": {
            "policy": policy,
            "sequence": sequence,
            "level": 0,
            "sizeMultiplier": 1,
            "stopMultiplier": 1,
            "entriesPaused": False,
            "closeDirectional": False,
            "halt": False,
            "reason": reason,
            "haltedAt": None,
            "runtimeStopped": False,
            "verifiedFlatAt": None,
            "conflicts": [],
        }
    }
