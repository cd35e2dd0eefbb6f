"""The operator's typed settings, from `EE_OPERATOR_*` environment variables.

Invalid values stop the operator at start with a message naming the variable.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EE_OPERATOR_", frozen=True, extra="ignore")

    namespaces: Annotated[tuple[str, ...], NoDecode] = ()
    """Namespaces to watch (comma-separated); empty means every namespace (cluster-wide)."""

    resync_seconds: float = Field(default=30.0, gt=0, le=3600)
    """How often every Engine is reconciled even without a change: repairs drift."""

    runtime_image: str = "ghcr.io/eternal-engine/eternal-engine:0.1.0"
    """The runtime image for Engines that do not name one."""

    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    """Pull policy of the runtime containers."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level of the operator."""

    log_format: Literal["json", "text"] = "json"
    """JSON lines for log shippers, or text for a terminal."""

    allow_mainnet: bool = False
    """Mainnet Engines trade real money: refused (phase Failed) unless this is true."""

    simulator_url: str = "http://127.0.0.1:8399"
    """Base URL of the paper venue that `venue: simulator` Engines trade on."""

    simulator_ws_url: str | None = None
    """WebSocket base of the paper venue; derived from simulator_url when unset."""

    simulator_master_api_key: str | None = None
    """The paper venue's master API key: lets the operator create subaccounts and keys for
    simulator Engines that name no credentials."""

    simulator_master_api_secret: SecretStr | None = None
    """Its secret (from a Secret in production; never logged)."""

    delete_deadline_seconds: float = Field(default=60.0, gt=0, le=3600)
    """How long a runtime has to confirm its orders cancelled (on delete or suspend) before the
    operator cancels through the venue itself."""

    governance_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    """How often each CircuitBreakerPolicy is evaluated: the bound on breach and halt latency."""

    error_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    """First delay after a failed Engine reconcile (the API server refused an object, an
    unexpected error); it doubles with each failure in a row."""

    error_backoff_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    """The longest delay between attempts at an Engine whose reconcile keeps failing."""

    heartbeat_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    """A runtime whose last heartbeat is older than this counts as gone (phase Degraded)."""

    reset_engine_managed_fields: bool = False
    """Reset each Engine's `metadata.managedFields` once where no server-side apply manages it:
    the API server then tracks no field ownership on its writes, and an Engine status write
    costs it 40% of the CPU. Off by default: the first server-side apply of an Engine after
    its reset removes what other writers added to it (a label, the operator's finalizer) and
    the apply does not name (docs/operator.md "Managed fields")."""

    metrics_port: int = Field(default=8080, ge=0, le=65535)
    """Port of the operator's Prometheus /metrics (0 disables)."""

    health_port: int = Field(default=8081, ge=0, le=65535)
    """Port of /healthz (liveness), /readyz (readiness) and /leader, served from process start
    by leader and standby alike (0 disables)."""

    leader_election: bool = True
    """Hold a Lease so that of several replicas exactly one acts."""

    lease_name: str = "eternal-engine-operator"
    """Name of the Lease used for leader election."""

    lease_seconds: float = Field(default=15.0, ge=2, le=300)
    """How long a Lease is valid without renewal; a new leader takes over after this."""

    pod_name: str = "eternal-operator-local"
    """This replica's identity in the Lease (the pod name, from the downward API)."""

    pod_namespace: str = "default"
    """Namespace of the Lease (the operator's own, from the downward API)."""

    runtime_metrics_port: int = Field(default=9100, ge=1, le=65535)
    """Port of each runtime's /metrics, exposed by its Service."""

    runtime_health_port: int = Field(default=8081, ge=1, le=65535)
    """Port of each runtime's /healthz and /readyz probes."""

    runtime_env_secret: str | None = "eternal-engine-runtime-env"  # noqa: S105 - a name
    """A Secret in each Engine's namespace whose keys become the runtime's environment (e.g.
    EE_DATABASE_URL, EE_REDIS_URL); optional, so an Engine starts without it."""

    database_url: str | None = None
    """PostgreSQL URL handed to runtimes (and used by governance), if any."""

    redis_url: str | None = None
    """Redis URL handed to runtimes (and used by governance), if any."""

    daily_report: bool = True
    """Build, store (PostgreSQL: needs database_url) and send the daily report at 00:00 UTC."""

    report_alertmanager_url: str | None = None
    """Alertmanager's base URL (e.g. http://alertmanager:9093): the daily report is POSTed there
    as an `info` alert. Unset: the report is only stored and logged."""

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    def venue_ws_url(self) -> str:
        if self.simulator_ws_url:
            return self.simulator_ws_url
        return self.simulator_url.replace("https://", "wss://").replace("http://", "ws://")
