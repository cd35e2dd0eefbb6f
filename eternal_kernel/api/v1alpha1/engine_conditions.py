"""Condition types of an Engine and the typed reasons each can carry."""

from __future__ import annotations

from enum import StrEnum


class EngineConditionType(StrEnum):
    READY = "Ready"
    """The runtime is running and reporting: the engine trades."""
    CREDENTIALS_VALID = "CredentialsValid"
    """The credentials Secret exists and holds both keys."""
    VENUE_CONNECTED = "VenueConnected"
    """The runtime reports its venue reachable."""
    HALTED = "Halted"
    """A governance halt is in force."""
    ENTRIES_PAUSED = "EntriesPaused"
    """The runtime paused its own entries (status.runtime.entriesPaused says why)."""


class EngineReason(StrEnum):
    RUNTIME_REPORTING = "RuntimeReporting"
    RUNTIME_FAILED = "RuntimeFailed"
    """The runtime reported that it cannot start (status.runtime.startError)."""
    OBJECT_REFUSED = "ObjectRefused"
    """The API server refused an object the operator renders for the Engine."""
    API_SERVER_UNAVAILABLE = "ApiServerUnavailable"
    """The API server did not answer, or answered with a server error: retried with backoff."""
    RECONCILE_ERROR = "ReconcileError"
    """The reconcile failed unexpectedly (the message says what): retried with backoff."""
    RUNTIME_STARTING = "RuntimeStarting"
    RUNTIME_NOT_CREATED = "RuntimeNotCreated"
    HEARTBEAT_STALE = "HeartbeatStale"
    SUSPENDING = "Suspending"
    SUSPENDED = "Suspended"
    DELETING = "Deleting"
    MAINNET_NOT_ALLOWED = "MainnetNotAllowed"
    SECRET_NOT_FOUND = "SecretNotFound"
    SECRET_KEY_MISSING = "SecretKeyMissing"
    SECRET_KEY_INVALID = "SecretKeyInvalid"
    SECRET_FOUND = "SecretFound"
    PROVISIONING_FAILED = "ProvisioningFailed"
    SUBACCOUNT_CONFLICT = "SubaccountConflict"
    VENUE_REACHABLE = "VenueReachable"
    VENUE_UNREACHABLE = "VenueUnreachable"
    NOT_REPORTED = "NotReported"
    INVALID_SPEC = "InvalidSpec"
    HALT_DIRECTIVE = "HaltDirective"
    NO_HALT = "NoHalt"
    KILL_SWITCH = "KillSwitch"
    """A strategy's kill switch holds the engine's entries (meta-trend)."""
    TAKING_ENTRIES = "TakingEntries"
