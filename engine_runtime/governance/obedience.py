"""Obeying governance and the operator: the directive in `status.governance`, the shutdown in
`status.shutdown`, and `spec.suspend`.

`observe` runs synchronously on every version of the Engine the watcher sees and flips the
flags the risk checks read at once (halt, entries paused, size multiplier), so no entry slips
out while the slower work (cancel, flatten) runs in the background. A directive is applied
when its sequence is new, persisted in the checkpoint (a restart obeys it before the API server
answers) and recorded as a governance event; `applied_sequence` then says so in the status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from eternal_operator.api.v1alpha1.engine import GovernanceDirective, ShutdownRequest

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]


class Governor:
    def __init__(self) -> None:
        self.directive = GovernanceDirective()
        self.applied_sequence: int | None = None
        self.flat: bool | None = None
        self.shutdown_requested_at: datetime | None = None
        self.shutdown_flatten = False
        self.shutdown_done_at: datetime | None = None
        self.suspended = False
        self.changed = asyncio.Event()
        self._pending: GovernanceDirective | None = None
        self._pending_shutdown = False
        self.wake = asyncio.Event()

    # what the risk checks read -------------------------------------------------------------
    @property
    def halted(self) -> bool:
        return self.directive.halt

    @property
    def entries_paused(self) -> bool:
        return self.directive.entries_paused or self.directive.halt

    @property
    def stopping(self) -> bool:
        """No new orders at all: a shutdown or suspend is under way or done."""
        return self.shutdown_requested_at is not None or self.suspended

    @property
    def size_multiplier(self) -> Decimal:
        return self.directive.size_multiplier

    # input -----------------------------------------------------------------------------
    def restore(self, saved: dict[str, Any] | None) -> None:
        """The directive persisted in the checkpoint: obeyed before the API server answers."""
        if not saved:
            return
        try:
            self.directive = GovernanceDirective.model_validate(saved)
        except ValidationError:
            log.warning("checkpointed directive is invalid; ignoring it")
            return
        self.applied_sequence = self.directive.sequence
        if self.directive.halt or self.directive.close_directional:
            self._pending = self.directive  # re-assert: the account may not be flat yet
            self.wake.set()

    def observe(self, engine: dict[str, Any]) -> None:
        status = engine.get("status") or {}
        raw = status.get("governance")
        if raw:
            try:
                directive = GovernanceDirective.model_validate(raw)
            except ValidationError as error:
                log.warning("unreadable directive: %s", error)
            else:
                if directive.sequence != self.directive.sequence or directive != self.directive:
                    self.directive = directive  # flags take effect now
                    self._pending = directive
                    self.flat = (
                        None if (directive.halt or directive.close_directional) else self.flat
                    )
                    self.wake.set()
        self._observe_shutdown(engine, status)

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

    def take_shutdown(self) -> bool:
        pending, self._pending_shutdown = self._pending_shutdown, False
        return pending

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
