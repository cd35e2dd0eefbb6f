"""The resolved configuration the operator hands each runtime (its ConfigMap's `engine.json`).

This is the contract between operator and runtime: the runtime reads nothing else from the
Engine's spec at start, and takes API keys only from its environment (BYBIT_API_KEY,
BYBIT_API_SECRET), never from this file.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .v1alpha1.base import ApiModel
from .v1alpha1.engine import RiskLimits, Strategy, Venue


class VenueEndpoints(ApiModel):
    """Where a venue's REST API and WebSocket streams live."""

    rest_url: str = Field(description="REST base URL, e.g. https://api.bybit.com.")
    public_ws_url: str = Field(description="Public stream base; /v5/public/{category} follows.")
    private_ws_url: str = Field(description="Private stream base; /v5/private follows.")


BYBIT_ENDPOINTS: dict[Venue, VenueEndpoints] = {
    Venue.MAINNET: VenueEndpoints(
        rest_url="https://api.bybit.com",
        public_ws_url="wss://stream.bybit.com",
        private_ws_url="wss://stream.bybit.com",
    ),
    Venue.TESTNET: VenueEndpoints(
        rest_url="https://api-testnet.bybit.com",
        public_ws_url="wss://stream-testnet.bybit.com",
        private_ws_url="wss://stream-testnet.bybit.com",
    ),
    # Bybit's demo trading: its own REST host and private stream; public data is mainnet's.
    Venue.DEMO: VenueEndpoints(
        rest_url="https://api-demo.bybit.com",
        public_ws_url="wss://stream.bybit.com",
        private_ws_url="wss://stream-demo.bybit.com",
    ),
}


def endpoints_for(venue: Venue, simulator_url: str, simulator_ws_url: str) -> VenueEndpoints:
    """The endpoints of `venue`; `simulator` is the paper venue at the given URLs."""
    if venue is Venue.SIMULATOR:
        return VenueEndpoints(
            rest_url=simulator_url, public_ws_url=simulator_ws_url, private_ws_url=simulator_ws_url
        )
    return BYBIT_ENDPOINTS[venue]


class EngineIdentity(ApiModel):
    name: str = Field(description="The Engine's name.")
    namespace: str = Field(description="The Engine's namespace.")
    uid: str = Field(description="The Engine's UID.")


class RuntimeConfig(ApiModel):
    """Everything a runtime needs to start, resolved by the operator (defaults filled in)."""

    engine: EngineIdentity = Field(description="Which Engine this runtime serves.")
    strategy: Strategy = Field(description="The strategy to run.")
    params: dict[str, Any] = Field(description="The strategy's parameters, defaults filled in.")
    symbols: list[str] = Field(description="Symbols to trade.")
    venue: Venue = Field(description="Which venue.")
    endpoints: VenueEndpoints = Field(description="The venue's URLs.")
    subaccount: str = Field(description="The subaccount traded.")
    risk: RiskLimits = Field(description="Hard risk limits.")
    metrics_port: int = Field(description="Port of /metrics.")
    health_port: int = Field(description="Port of /healthz and /readyz.")
