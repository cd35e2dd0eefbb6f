"""Typed configuration of the venue, with defaults that make `python -m ...` just work.

Frozen pydantic models with `extra="forbid"`: a typo in a config file is an error, not a
silently ignored key. `VenueSettings.load` reads a YAML or JSON file; environment
variables `PAPER_VENUE_HOST`, `PAPER_VENUE_PORT`, `PAPER_VENUE_DATA_DIR`,
`PAPER_VENUE_ADMIN_TOKEN` and `PAPER_VENUE_CONFIG` override.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from paper_venue.amounts import Balance, Coin, Price
from paper_venue.clock import ClockMode

#: The documented default master credentials. They only ever work on a paper venue.
DEFAULT_MASTER_KEY = "PAPERMASTERKEY0001"
DEFAULT_MASTER_SECRET = "PAPERMASTERSECRET0000000000000000001"  # noqa: S105 (paper only)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApiKeySeed(_Model):
    """An API key to create at start."""

    key: str = Field(min_length=8, max_length=64)
    """The key id sent as X-BAPI-API-KEY."""
    secret: str = Field(min_length=16, max_length=128)
    """The HMAC secret; never logged."""
    read_only: bool = False
    """Read-only keys get 10005 on anything that trades or moves money."""


class AccountSeed(_Model):
    """A subaccount (or the master) to create at start."""

    username: str = Field(min_length=1, max_length=32)
    """Bybit sub-member username."""
    uid: int | None = None
    """Fixed member id; assigned if absent."""
    balances: dict[Coin, Balance] = Field(default_factory=dict)
    """Unified wallet balances by coin (finite, 0 to 1e15, at most 8 decimal places)."""
    keys: list[ApiKeySeed] = Field(default_factory=list)
    """API keys of this account."""


def _default_subaccounts() -> list[AccountSeed]:
    return [
        AccountSeed(
            username=f"paper_sub_{i}",
            uid=100000 + i,
            balances={"USDT": Decimal(10000)},
            keys=[
                ApiKeySeed(key=f"PAPERSUBKEY000{i}", secret=f"PAPERSUBSECRET00000000000000000{i}")
            ],
        )
        for i in (1, 2, 3)
    ]


class AccountsSettings(_Model):
    """Who exists at start: the master account and its subaccounts."""

    master: AccountSeed = AccountSeed(
        username="paper_master",
        uid=100000,
        balances={"USDT": Decimal(100000), "BTC": Decimal(1), "ETH": Decimal(10)},
        keys=[ApiKeySeed(key=DEFAULT_MASTER_KEY, secret=DEFAULT_MASTER_SECRET)],
    )
    """The master (main) account; its keys may create subaccounts and transfer between them."""
    subaccounts: list[AccountSeed] = Field(default_factory=_default_subaccounts)
    """Subaccounts under the master."""


class FeedSettings(_Model):
    """Where prices come from."""

    kind: Literal["random_walk", "scripted", "candles"] = "random_walk"
    """random_walk: seeded walk with jumps and regimes; scripted: piecewise-linear paths;
    candles: a CSV or Parquet file of candles replayed from the venue's start."""
    initial_prices: dict[str, Price] = Field(
        default_factory=lambda: {
            "BTCUSDT": Decimal(60000),
            "ETHUSDT": Decimal(3000),
            "SOLUSDT": Decimal(150),
        }
    )
    """Starting price per symbol (random walk and scripted paths)."""
    step_ms: int = Field(default=1000, ge=10)
    """Random walk step."""
    volatility_per_step: float = Field(default=0.00015, gt=0, lt=0.5)
    """Standard deviation of a step's log return in the calm regime."""
    jump_probability: float = Field(default=0.00002, ge=0, le=1)
    """Chance per step of a jump."""
    jump_size: float = Field(default=0.01, ge=0, lt=0.9)
    """Standard deviation of a jump's log return."""
    regime_change_probability: float = Field(default=0.00003, ge=0, le=1)
    """Chance per step of switching between calm and volatile regimes."""
    volatile_multiplier: float = Field(default=3.0, ge=1)
    """Volatility multiplier of the volatile regime."""
    script: dict[str, list[tuple[int, Price]]] = Field(default_factory=dict)
    """scripted: per symbol, (offset_ms from start, multiplier of the initial price) points,
    interpolated linearly; e.g. {"BTCUSDT": [[0, 1], [600000, 0.7]]} falls 30% in ten minutes."""
    candles_path: Path | None = None
    """candles: file with columns timestamp (ms), open, high, low, close, volume and symbol
    (or one symbol given by candles_symbol)."""
    candles_symbol: str | None = None
    """candles: the symbol when the file has no symbol column."""
    trade_notional_usdt: Decimal = Field(default=Decimal(2000), ge=0)
    """Market volume (USDT) behind each price change, growing with the size of the move; it
    fills candles' volume and the publicTrade stream. 0: only the venue's own fills."""
    backfill_minutes: int = Field(default=200, ge=0, le=10000)
    """One-minute candles generated before the start, so kline history exists at once."""


class ClockSettings(_Model):
    """How market time moves."""

    mode: ClockMode = ClockMode.REAL
    """real, accelerated or stepped."""
    speed: float = Field(default=1.0, gt=0, le=1_000_000)
    """accelerated: market milliseconds per wall millisecond."""
    start_ms: int | None = None
    """Market time at start; now if absent."""
    tick_interval_ms: int = Field(default=100, ge=5, le=10000)
    """Wall interval between market updates (real and accelerated modes)."""


class FeeSettings(_Model):
    """Trading fee rates."""

    spot_maker: Decimal = Decimal("0.001")
    spot_taker: Decimal = Decimal("0.001")
    linear_maker: Decimal = Decimal("0.0002")
    linear_taker: Decimal = Decimal("0.00055")


class BookSettings(_Model):
    """The synthetic order book built around the feed price."""

    levels: int = Field(default=50, ge=1, le=500)
    """Price levels per side."""
    spread_ticks: int = Field(default=1, ge=1)
    """Best ask minus best bid, in ticks."""
    level_gap_ticks: int = Field(default=1, ge=1)
    """Distance between levels, in ticks."""
    level_notional_usdt: Decimal = Decimal(50000)
    """Quantity at the best level, as USDT notional."""
    level_growth: Decimal = Decimal("0.1")
    """Each level deeper holds this fraction more than the one before."""


class FundingSettings(_Model):
    """Funding of linear perpetuals."""

    interval_hours: int = Field(default=8, ge=1, le=24)
    """Settlement every N hours from 00:00 UTC."""
    rate: Decimal = Decimal("0.0001")
    """Rate used when no series is given."""
    series: dict[str, list[Decimal]] = Field(default_factory=dict)
    """Per symbol, the rates of successive settlements (the last one repeats)."""


class RateLimitSettings(_Model):
    """Per-endpoint rate limits (requests per second per UID; market data per IP)."""

    enabled: bool = True
    """Switch all limits off, e.g. for benchmarks."""
    overrides: dict[str, int] = Field(default_factory=dict)
    """Path (or "path#category", e.g. "/v5/order/create#spot") to requests per second,
    replacing the built-in table's entry."""


class VenueSettings(_Model):
    """Everything the venue needs to start."""

    host: str = "127.0.0.1"
    port: int = Field(default=8399, ge=0, le=65535)
    seed: int = 7
    """Seed of the random walk and of anything else random."""
    symbols: list[str] = Field(default_factory=lambda: ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    """Symbols listed in both spot and linear."""
    feed: FeedSettings = FeedSettings()
    clock: ClockSettings = ClockSettings()
    fees: FeeSettings = FeeSettings()
    book: BookSettings = BookSettings()
    funding: FundingSettings = FundingSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    accounts: AccountsSettings = AccountsSettings()
    accounts_file: Path | None = None
    """A YAML or JSON file with the `accounts` section (master and subaccounts with keys);
    replaces `accounts`, so secrets can live apart from the rest of the config."""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    """Larger request bodies get 10001 without being read."""
    ws_reply_delay_ms: int = Field(default=20, ge=0, le=5000)
    """Delay before a subscription is answered and its snapshot sent, like a network round
    trip; pybit needs a moment to record what it subscribed to."""
    admin_token: SecretStr | None = None
    """The value every /admin call must carry in header X-Admin-Token (16 characters or
    more). If absent, the venue uses the token in `data_dir`/admin-token, generating that
    file (mode 0600) if need be; the admin API is never open."""
    data_dir: Path | None = None
    """The venue's own files: the generated admin token, and the snapshots /admin/snapshot
    writes and /admin/restore reads (names are resolved inside it and may not leave it).
    Default: the folder of `snapshot_path`, else ~/.local/state/eternal-engine/paper-venue
    (under $XDG_STATE_HOME if set)."""
    snapshot_path: Path | None = None
    """Restore from this file at start if it exists, and write it at shutdown."""
    snapshot_interval_s: float = Field(default=10.0, ge=0)
    """With `snapshot_path`: also write it every this many seconds, so a crash loses at
    most that much; 0 writes only at shutdown."""
    log_level: str = "INFO"

    def resolved_data_dir(self) -> Path:
        """`data_dir`, or its default (see there)."""
        if self.data_dir is not None:
            return self.data_dir
        if self.snapshot_path is not None:
            return Path(self.snapshot_path).parent
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(state) / "eternal-engine" / "paper-venue"

    def resolved_accounts(self) -> AccountsSettings:
        """The accounts to bootstrap: from `accounts_file` if set, else `accounts`."""
        if self.accounts_file is None:
            return self.accounts
        return AccountsSettings.model_validate(_read_mapping(self.accounts_file))

    @classmethod
    def load(cls, path: Path | None = None) -> VenueSettings:
        """Defaults, then the file (YAML or JSON) if given, then the environment's overrides."""
        data: dict[str, object] = {}
        path = path or (Path(p) if (p := os.environ.get("PAPER_VENUE_CONFIG")) else None)
        if path is not None:
            data.update(_read_mapping(path))
        for name, field in ENV_OVERRIDES.items():
            if value := os.environ.get(name):
                data[field] = value
        return cls.model_validate(data)


ENV_OVERRIDES = {
    "PAPER_VENUE_HOST": "host",
    "PAPER_VENUE_PORT": "port",
    "PAPER_VENUE_DATA_DIR": "data_dir",
    "PAPER_VENUE_ADMIN_TOKEN": "admin_token",
}
"""Environment variables that override a setting (after the config file)."""


def _read_mapping(path: Path) -> dict[str, object]:
    text = path.read_text()
    loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return loaded
