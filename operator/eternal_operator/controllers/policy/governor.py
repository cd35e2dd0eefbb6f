"""One governance loop per CircuitBreakerPolicy.

Each tick: select the engines, read their equity, evaluate, tell every engine the directive
whose content changed (status.governance, never spec), enforce halts that runtimes do not
confirm in time, and record what changed (policy status, Events, metrics, the store).
Only what changed is written; equity figures for `kubectl get cbp` at most every few seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from eternal_operator.api.v1alpha1 import GROUP, CircuitBreakerPolicySpec, Engine
from eternal_operator.api.v1alpha1.policy import CircuitBreakerPolicyStatus
from eternal_operator.controllers.engine import credentials, render
from eternal_operator.controllers.engine.reconcile import Context
from eternal_operator.governance import codec
from eternal_operator.governance.evaluate import Reset, State, Step, evaluate
from eternal_operator.governance.selector import matches
from eternal_operator.kube import KubeError
from eternal_operator.metrics import (
    GOVERNANCE_DIRECTIVES,
    GOVERNANCE_HALTED,
    GOVERNANCE_LEVEL,
    PORTFOLIO_DRAWDOWN,
    PORTFOLIO_HWM,
    PORTFOLIO_NAV,
)

from . import sources

log = logging.getLogger(__name__)

RESET_ANNOTATION = f"{GROUP}/reset"
RESET_FORCE_ANNOTATION = f"{GROUP}/reset-force"
DISPLAY_EVERY = timedelta(seconds=5)
HISTORY = 20
DISPLAY_FIELDS = {"equity", "navPerUnit", "drawdown", "unknownEngines", "engines"}

EventSink = Callable[[str, str, str, str | None], None]
"""(type, reason, message, engine name or None for the policy)."""


@dataclass
class EngineSnapshot:
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]
    runtime: dict[str, Any] | None
    governance: dict[str, Any] | None
    uid: str
    allocation: dict[str, Any] | None = None


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
    _flattening: set[str] = field(default_factory=set)
    _issued: dict[str, Any] | None = None
    _issued_at: datetime | None = None

    async def tick(
        self,
        body: Mapping[str, Any],
        engines: list[EngineSnapshot],
        transfers: list[Mapping[str, Any]],
    ) -> Step:
        now = self.ctx.clock()
        spec = CircuitBreakerPolicySpec.model_validate(body.get("spec") or {})
        status = CircuitBreakerPolicyStatus.model_validate(body.get("status") or {})
        if self.state is None:
            self.state = await self._restore(status)
            # What the status holds now, so a state restored from PostgreSQL is written back.
            self._written = codec.state_fields(codec.state_from_status(status))
        selected = sorted(
            (e for e in engines if matches(spec.selector, e.labels)), key=lambda e: e.name
        )
        names = {e.name for e in selected}
        observations = await sources.observe(
            self.namespace, [(e.name, e.runtime) for e in selected], self.redis
        )
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
            differs = any(not codec.same_directive(e.governance, content) for e in selected)
            if self._issued is not None or differs:
                step.state = replace(step.state, sequence=step.state.sequence + 1)
                self._issued_at = now
            self._issued = content
        self.state = step.state
        await self._tell_engines(selected, content, now)
        if step.directive.halt:
            await self._enforce_halt(spec, selected, now)
        await self._record(step, status, selected, now)
        return step

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

    def _directive_patch(self, content: dict[str, Any], now: datetime) -> dict[str, Any]:
        assert self.state is not None
        issued = self._issued_at or now
        return {
            **content,
            "sequence": self.state.sequence,
            "issuedAt": issued.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "runtimeStopped": False,
        }

    async def _tell_engines(
        self, selected: list[EngineSnapshot], content: dict[str, Any], now: datetime
    ) -> None:
        assert self.state is not None
        stale = [
            e
            for e in selected
            if not codec.same_directive(e.governance, content)
            or (e.governance or {}).get("sequence") != self.state.sequence
        ]
        if not stale:
            return
        patch = self._directive_patch(content, now)
        results = await asyncio.gather(
            *(self._patch_engine(e.name, {"governance": patch}) for e in stale),
            return_exceptions=True,
        )
        GOVERNANCE_DIRECTIVES.labels(self.name).inc(len(stale))
        for engine, result in zip(stale, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("governance: directive to %s failed: %s", engine.name, result)
            else:
                kind = "Warning" if content["halt"] else "Normal"
                message = f"level {content['level']}: {content['reason']}"
                self.events(kind, "Directive", message, engine.name)
                engine.governance = patch

    async def _patch_engine(self, engine: str, status: dict[str, Any]) -> None:
        await self.ctx.kube.merge_patch(
            "trading.eternal-engine.io/v1alpha1", "Engine", self.namespace, engine,
            {"status": status}, subresource="status",
        )  # fmt: skip

    async def _enforce_halt(
        self, spec: CircuitBreakerPolicySpec, selected: list[EngineSnapshot], now: datetime
    ) -> None:
        """Flatten, through the venue, every engine whose runtime did not confirm in time."""
        assert self.state is not None
        deadline = timedelta(seconds=spec.halt_deadline_seconds)
        issued = self._issued_at or now
        for engine in selected:
            governance, runtime = engine.governance or {}, engine.runtime or {}
            confirmed = bool(runtime.get("flat")) and (
                int(runtime.get("appliedDirective") or -1) >= self.state.sequence
            )
            if governance.get("runtimeStopped") or confirmed or engine.name in self._flattening:
                continue
            if now - issued < deadline:
                continue
            self._flattening.add(engine.name)
            asyncio.create_task(self._flatten(engine, self.state.sequence))  # noqa: RUF006

    async def _flatten(self, snapshot: EngineSnapshot, sequence: int) -> None:
        try:
            engine = Engine.model_validate({"spec": snapshot.spec})
            ref = render.EngineRef(snapshot.name, self.namespace, snapshot.uid)
            name, key_key, secret_key = render.credentials_ref(engine, ref)
            keys = await credentials.load(
                self.ctx.kube, credentials.SecretRef(self.namespace, name, key_key, secret_key)
            )
            if not isinstance(keys, credentials.ApiKeys):
                raise RuntimeError(keys.message)
            summary = await self.ctx.venue.cancel_all(
                engine, ref, keys, flatten=True, request_id=f"h{snapshot.uid[:6]}{sequence}"
            )
            await self._patch_engine(snapshot.name, {"governance": {"runtimeStopped": True}})
            await self.ctx.kube.merge_patch(
                "apps/v1", "Deployment", self.namespace,
                render.RuntimeNames.of(snapshot.name).deployment, {"spec": {"replicas": 0}},
            )  # fmt: skip
            self.events("Warning", "OperatorFlattened",
                        f"the runtime did not confirm flat in time; the operator {summary} "
                        "and scaled it to zero", snapshot.name)  # fmt: skip
        except Exception as error:  # retried on a later tick
            log.warning("governance: flattening %s failed: %s", snapshot.name, error)
            self.events("Warning", "FlattenFailed", f"cannot flatten through the venue: {error}",
                        snapshot.name)  # fmt: skip
        finally:
            self._flattening.discard(snapshot.name)

    async def _record(
        self,
        step: Step,
        status: CircuitBreakerPolicyStatus,
        selected: list[EngineSnapshot],
        now: datetime,
    ) -> None:
        assert self.state is not None
        fields = codec.state_fields(self.state)
        patch = {k: v for k, v in fields.items() if self._written.get(k) != v}
        if step.changes:
            history = [h.model_dump(mode="json", by_alias=True) for h in status.history]
            for change in step.changes:
                history.append({
                    "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "fromLevel": change.from_level,
                    "toLevel": change.to_level, "drawdown": f"{change.drawdown:.4f}",
                    "reason": change.reason[:512],
                })  # fmt: skip
            patch["history"] = history[-HISTORY:]
        engines = [e.name for e in selected]
        if engines != status.engines:
            patch["engines"] = engines
        if patch or self._displayed_at is None or now - self._displayed_at >= DISPLAY_EVERY:
            patch.update(codec.display_fields(step))
            self._displayed_at = now
        if patch:
            try:
                await self.ctx.kube.merge_patch(
                    "trading.eternal-engine.io/v1alpha1", "CircuitBreakerPolicy",
                    self.namespace, self.name, {"status": patch}, subresource="status",
                )  # fmt: skip
                self._written.update(fields)
            except KubeError as error:
                log.warning("governance: status of %s not written: %s", self.name, error)
        for kind, reason, message in step.events:
            # On the policy; each engine the change reaches gets its own `Directive` Event.
            self.events(kind, reason, message, None)
        state_changed = bool(patch.keys() - DISPLAY_FIELDS)
        if self.store is not None and (step.changes or state_changed):
            await self.store.save(self.namespace, self.name, self.state, step.changes, now)
        GOVERNANCE_LEVEL.labels(self.name).set(self.state.level)
        GOVERNANCE_HALTED.labels(self.name).set(1 if self.state.halted else 0)
        if step.nav_per_unit is not None and self.state.book is not None:
            PORTFOLIO_NAV.labels(self.name).set(float(step.equity or 0))
            PORTFOLIO_DRAWDOWN.labels(self.name).set(float(step.drawdown or 0))
            PORTFOLIO_HWM.labels(self.name).set(float(self.state.book.high_water_mark))
