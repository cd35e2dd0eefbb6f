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


class EngineReason(StrEnum):
    RUNTIME_REPORTING = "RuntimeReporting"
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
