"""Faults an operator of the venue can inject through the admin API.

Counted faults (`rate_limit_storm`, `http_5xx`) hit the next N requests; `latency_ms`
delays every request until cleared. On the private streams, `execution_delay_ms` holds back
every `execution` message and `drop_executions` loses the next N of them (an execution stream
lagging or losing messages while the order stream is on time; the REST history still has
them). Dropped WebSocket connections and paused or moved prices act at once and are handled
by the admin module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Faults:
    """Faults in force."""

    latency_ms: int = 0
    """Added before every REST answer."""
    rate_limit_storm: int = 0
    """The next N private or public REST requests get 10006."""
    http_5xx: int = 0
    """The next N REST requests get an HTTP 503 with a non-JSON body, like a gateway."""
    http_5xx_status: int = 503
    execution_delay_ms: int = 0
    """Private `execution` messages go out this much later than they happen."""
    drop_executions: int = 0
    """The next N private `execution` messages are never sent."""

    def take_storm(self) -> bool:
        if self.rate_limit_storm > 0:
            self.rate_limit_storm -= 1
            return True
        return False

    def take_5xx(self) -> bool:
        if self.http_5xx > 0:
            self.http_5xx -= 1
            return True
        return False

    def take_dropped_execution(self) -> bool:
        if self.drop_executions > 0:
            self.drop_executions -= 1
            return True
        return False

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def clear(self) -> None:
        self.latency_ms = self.rate_limit_storm = self.http_5xx = 0
        self.execution_delay_ms = self.drop_executions = 0
