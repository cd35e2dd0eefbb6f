"""The `Backtest` kind: a parameter sweep of one strategy, run as a Kubernetes Indexed Job (one
completion index per shard of the grid), its shards' results in PostgreSQL and the ranking in
the status.

The spec is immutable once created (a CEL transition rule): a different sweep is a new Backtest,
so a status always describes the one grid its Job ran.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from .base import ApiModel, cel, rules, snake
from .common import Conditions, ObjectName
from .engine import PARAMS_BLOCKS, ObjectMeta, Strategy, Symbol, Venue
from .names import DNS_1035_LABEL
from .strategy_params import StrategyParams
from .training import ConfigMapKey, ConfigMapName

BACKTEST_NAME_MAX = 52
"""The Job is named after the Backtest; its pods' hostnames add `-<index>` (63 at most)."""
BACKTEST_NAME_MESSAGE = (
    f"must be a DNS-1035 label of at most {BACKTEST_NAME_MAX} characters, so that the operator "
    "can name its Job and the Job its pods"
)
BACKTEST_NAME_RULE = f"size(self) <= {BACKTEST_NAME_MAX} && self.matches('{DNS_1035_LABEL}')"
MAX_SHARDS = 64
MAX_COMBINATIONS = 10_000
SMA_CROSS = "sma-cross"
SMA_CROSS_AXES = ("fast", "slow", "qty")


class BacktestStrategy(StrEnum):
    """What a Backtest can sweep: sma-cross (the reference strategy) and the registry's
    strategies that run on candles alone (scalper needs recorded order books, meta-trend a
    trained model: sweep them with the CLI)."""

    SMA_CROSS = SMA_CROSS
    CORE_HODL = Strategy.CORE_HODL.value
    TREND = Strategy.TREND.value
    FUNDING = Strategy.FUNDING.value
    TACTICAL = Strategy.TACTICAL.value
    GRID = Strategy.GRID.value


class Metric(StrEnum):
    """The statistic shards are ranked by (the backtester's Stats names); drawdowns rank lower
    first, the others higher first."""

    SHARPE = "sharpe"
    SORTINO = "sortino"
    CALMAR = "calmar"
    TOTAL_RETURN = "total_return"
    CAGR = "cagr"
    PROFIT_FACTOR = "profit_factor"
    WIN_RATE = "win_rate"
    MAX_DRAWDOWN = "max_drawdown"


class SmaCrossParams(ApiModel):
    """sma-cross's fixed parameters (what the grid does not vary)."""

    fast: int = Field(default=10, ge=1, le=1000, description="Fast SMA period.")
    slow: int = Field(default=20, ge=2, le=5000, description="Slow SMA period.")
    qty: Decimal = Field(default=Decimal(1), gt=0, le=10**9, description="Order quantity.")


class BacktestParams(StrategyParams):
    """The fixed parameters: the strategy's params block (as an Engine's spec.params), or
    smaCross."""

    sma_cross: SmaCrossParams | None = Field(default=None, description="sma-cross parameters.")


AxisValue = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[-+._a-zA-Z0-9]+$")]


class GridAxis(ApiModel):
    """One parameter and its values: a list, or an inclusive range `a:b:step` (as the sweep
    CLI's `--axis`)."""

    model_config = ApiModel.model_config | {"json_schema_extra": rules(
        cel("has(self.values) != has(self.range)", "set exactly one of values and range")
    )}  # fmt: skip

    name: str = Field(
        min_length=1, max_length=63, pattern=r"^[a-zA-Z][a-zA-Z0-9]*$",
        description="The camelCase field of the strategy's params block (fast, slow, qty for "
        "sma-cross).",
    )  # fmt: skip
    values: list[AxisValue] | None = Field(
        default=None, min_length=1, max_length=200, description="The values, e.g. ['5', '10']."
    )
    range: str | None = Field(
        default=None, max_length=64, pattern=r"^[-+.0-9]+:[-+.0-9]+:[-+.0-9]+$",
        description="An inclusive range a:b:step, e.g. 5:50:5.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _one(self) -> GridAxis:
        if (self.values is None) == (self.range is None):
            raise ValueError("set exactly one of values and range")
        return self

    def text(self) -> str:
        """The sweep's `name=...` form, parsed by `engine_runtime.backtest.sweep.parse_axis`."""
        spec = self.range if self.range is not None else ",".join(self.values or [])
        return f"{self.name}={spec}"


class CandlesFile(ApiModel):
    """One symbol's candles: a CSV under a key of the ConfigMap."""

    symbol: Symbol = Field(description="The symbol these candles are of.")
    key: ConfigMapKey = Field(description="The ConfigMap key holding the CSV.")


class CandlesConfigMap(ApiModel):
    """Candles in a ConfigMap: a CSV per symbol (timestamp, open, high, low, close, volume)."""

    name: ConfigMapName = Field(description="The ConfigMap, in the Backtest's namespace.")
    files: list[CandlesFile] = Field(
        min_length=1, max_length=10, description="Which key holds which symbol's candles.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys":
                           ["symbol"]},
    )  # fmt: skip


VOLUME_PATH = r"^[-._a-zA-Z0-9]+(/[-._a-zA-Z0-9]+)*$"
"""A relative path in a volume: names joined by '/', no leading '/' (`..` is refused apart)."""
UP_SEGMENT = r"(^|/)[.][.](/|$)"


class VolumeFile(ApiModel):
    """One symbol's candles: a CSV file in the volume's directory."""

    symbol: Symbol = Field(description="The symbol these candles are of.")
    file: ConfigMapKey = Field(description="The CSV's file name in the directory.")


class CandlesVolume(ApiModel):
    """Candles in a volume (a PersistentVolumeClaim, mounted read-only): a CSV per symbol in
    one directory, for data too large for a ConfigMap's 1 MiB."""

    model_config = ApiModel.model_config | {"json_schema_extra": rules(
        cel(f"!has(self.path) || !self.path.matches('{UP_SEGMENT}')",
            "path must stay inside the volume: no '..'"),
        cel("self.files.all(f, f.file != '.' && f.file != '..')",
            "a file must be a file name, not '.' or '..'"),
    )}  # fmt: skip

    claim_name: ObjectName = Field(
        description="The PersistentVolumeClaim, in the Backtest's namespace."
    )
    path: str | None = Field(
        default=None, min_length=1, max_length=1024, pattern=VOLUME_PATH,
        description="The directory in the volume holding the files (relative, no '..'; "
        "default: the volume's root).",
    )  # fmt: skip
    files: list[VolumeFile] = Field(
        min_length=1, max_length=10, description="Which file holds which symbol's candles.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys":
                           ["symbol"]},
    )  # fmt: skip

    @model_validator(mode="after")
    def _inside(self) -> CandlesVolume:
        if self.path is not None and re.search(UP_SEGMENT, self.path):
            raise ValueError("path must stay inside the volume: no '..'")
        if any(f.file in (".", "..") for f in self.files):
            raise ValueError("a file must be a file name, not '.' or '..'")
        return self


class VenueHistory(ApiModel):
    """Candles downloaded from the venue's public kline history when each shard starts."""

    venue: Venue = Field(default=Venue.SIMULATOR, description="Whose history.")
    interval: Literal["1", "5", "15", "30", "60", "240", "D"] = Field(
        default="60", description="Bybit kline interval (minutes, or D)."
    )
    bars: int = Field(default=2000, ge=50, le=100_000, description="Candles per symbol up to now.")


ONE_SOURCE = "set exactly one of venueHistory, configMap and volume"


class BacktestData(ApiModel):
    """Where the candles come from: exactly one of venueHistory, configMap and volume."""

    venue_history: VenueHistory | None = Field(default=None, description="The venue's klines.")
    config_map: CandlesConfigMap | None = Field(default=None, description="CSVs in a ConfigMap.")
    volume: CandlesVolume | None = Field(
        default=None, description="CSVs in a PersistentVolumeClaim's volume."
    )

    @model_validator(mode="after")
    def _one_source(self) -> BacktestData:
        if sum(s is not None for s in (self.venue_history, self.config_map, self.volume)) != 1:
            raise ValueError(ONE_SOURCE)
        return self

    def candle_files(self) -> list[tuple[str, str]] | None:
        """The (symbol, file name) of each CSV in the mounted directory, for the sources that
        are files (a ConfigMap's keys, a volume's files); None for the venue's history."""
        if self.config_map is not None:
            return [(f.symbol, f.key) for f in self.config_map.files]
        if self.volume is not None:
            return [(f.symbol, f.file) for f in self.volume.files]
        return None


class Category(StrEnum):
    """The market the candles are of."""

    SPOT = "spot"
    LINEAR = "linear"


class Fees(ApiModel):
    """Fee rates (fractions of notional) and slippage; unset rates are Bybit's base rates."""

    maker: Decimal | None = Field(default=None, ge=0, le=Decimal("0.1"), description="Maker rate.")
    taker: Decimal | None = Field(default=None, ge=0, le=Decimal("0.1"), description="Taker rate.")
    slippage_bps: Decimal = Field(
        default=Decimal(2), ge=0, le=1000, description="Slippage in basis points of price."
    )


class Span(ApiModel):
    """The part of the data the sweep runs on (default: all of it)."""

    start: datetime | None = Field(default=None, description="First bar (inclusive).")
    end: datetime | None = Field(default=None, description="End (exclusive).")


class BacktestSpec(ApiModel):
    """The sweep: a strategy, its fixed params and a grid, the data, and how to shard it."""

    strategy: BacktestStrategy = Field(description="The strategy swept.")
    params: BacktestParams | None = Field(
        default=None, description="Fixed parameters: the strategy's block only."
    )
    grid: list[GridAxis] = Field(
        default_factory=list, max_length=6,
        description="The axes swept (none: the fixed parameters alone).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys":
                           ["name"]},
    )  # fmt: skip
    random: int | None = Field(
        default=None, ge=1, le=MAX_COMBINATIONS,
        description="Run this many combinations drawn at random from the grid (seeded).",
    )  # fmt: skip
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seed of the random draw.")
    symbols: list[Symbol] = Field(
        min_length=1, max_length=10, description="Symbols traded (sma-cross: the first).",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )  # fmt: skip
    category: Category = Field(default=Category.LINEAR, description="The candles' market.")
    data: BacktestData = Field(
        description="Where the candles come from.",
        json_schema_extra=rules(cel(
            "[has(self.venueHistory), has(self.configMap), has(self.volume)]"
            ".filter(s, s).size() == 1",
            ONE_SOURCE,
        )),
    )  # fmt: skip
    span: Span = Field(default_factory=Span, description="The part of the data run.")
    fees: Fees = Field(default_factory=Fees, description="Fees and slippage.")
    initial_cash: Decimal = Field(
        default=Decimal(10_000), gt=0, le=10**12, description="Starting capital (USDT)."
    )
    leverage: Decimal = Field(default=Decimal(2), ge=1, le=100, description="Maximum leverage.")
    metric: Metric = Field(default=Metric.SHARPE, description="What the combinations rank by.")
    top: int = Field(default=5, ge=1, le=20, description="Ranked combinations kept in status.")
    shards: int = Field(
        default=1, ge=1, le=MAX_SHARDS, description="Completion indexes of the Job: the grid "
        "is cut into this many contiguous slices.",
    )  # fmt: skip
    parallelism: int = Field(default=1, ge=1, le=MAX_SHARDS, description="Shards run at once.")
    image: str | None = Field(default=None, max_length=512, description="Default: the runtime's.")
    active_deadline_seconds: int = Field(
        default=3600, ge=30, le=86400, description="The Job fails if the sweep takes longer."
    )
    backoff_limit: int = Field(
        default=1, ge=0, le=10, description="Retries of failed shard pods before the Job fails."
    )

    @model_validator(mode="after")
    def _consistent(self) -> BacktestSpec:
        if self.parallelism > self.shards:
            raise ValueError("parallelism must not exceed shards")
        block = self.block_name()
        given = {n for n, v in (self.params or BacktestParams()) if v is not None}
        if given - {snake(block)}:
            raise ValueError(f"params may only set {block}, the block of {self.strategy.value}")
        names = [a.name for a in self.grid]
        if len(set(names)) != len(names):
            raise ValueError("grid axes must have distinct names")
        for axis in self.grid:
            check_axis(self.strategy, self.base(), axis.name, axis_values(axis))
        count = combinations(self)
        if count > MAX_COMBINATIONS:
            raise ValueError(f"the grid has {count} combinations; at most {MAX_COMBINATIONS}")
        if self.shards > count:
            raise ValueError(f"shards ({self.shards}) must not exceed the combinations ({count})")
        return self

    def block_name(self) -> str:
        if self.strategy is BacktestStrategy.SMA_CROSS:
            return "smaCross"
        return PARAMS_BLOCKS[Strategy(self.strategy.value)]

    def base(self) -> dict[str, Any]:
        """The fixed parameters as the sweep's StrategyBuilder takes them (camelCase)."""
        block = getattr(self.params or BacktestParams(), snake(self.block_name()))
        if block is None and self.strategy is BacktestStrategy.SMA_CROSS:
            block = SmaCrossParams()
        if block is None:
            return {}
        return dict(block.model_dump(mode="json", by_alias=True, exclude_none=True))


def axis_values(axis: GridAxis) -> list[Any]:
    """The axis's values in order, as the sweep reads them (numbers where numeric)."""
    if axis.range is not None:
        lo, hi, step = (Decimal(p) for p in axis.range.split(":"))
        if step <= 0 or hi < lo:
            raise ValueError(f"grid axis {axis.name}: a range needs a <= b and a positive step")
        count = int((hi - lo) / step) + 1
        if count > MAX_COMBINATIONS:
            raise ValueError(f"grid axis {axis.name}: {count} values; at most {MAX_COMBINATIONS}")
        return [_number(lo + i * step) for i in range(count)]
    out: list[Any] = []
    for text in axis.values or []:
        try:
            out.append(_number(Decimal(text)))
        except ArithmeticError:
            out.append(text)
    return out


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def combinations(spec: BacktestSpec) -> int:
    count = 1
    for axis in spec.grid:
        count *= len(axis_values(axis))
    return min(count, spec.random) if spec.random is not None else count


def check_axis(strategy: BacktestStrategy, base: dict[str, Any], name: str, values: list[Any]
               ) -> None:  # fmt: skip
    """Each value of the axis as the strategy's block reads it, with the fixed parameters
    around it: a field the block has not, or a value it refuses, is an error (rules between
    fields, like fast < slow, are the combination's own: its row says why it did not run)."""
    if strategy is BacktestStrategy.SMA_CROSS:
        model: type[ApiModel] = SmaCrossParams
    else:
        field = snake(PARAMS_BLOCKS[Strategy(strategy.value)])
        annotation = StrategyParams.model_fields[field].annotation
        model = next(a for a in getattr(annotation, "__args__", ()) if a is not type(None))
    aliases = {f.alias or n for n, f in model.model_fields.items()}
    if name not in aliases:
        raise ValueError(f"grid axis {name}: {strategy.value} has no parameter {name} "
                         f"(it has {', '.join(sorted(aliases))})")  # fmt: skip
    for value in values:
        try:
            model.model_validate({**base, name: value})
        except ValidationError as error:
            mine = [e for e in error.errors() if e["loc"][:1] == (name,)]
            if mine:
                raise ValueError(f"grid axis {name}: {value!r} {mine[0]['msg']}") from None


_SPEC_RULES = rules(
    cel("self.parallelism <= self.shards", "parallelism must not exceed shards"),
    cel("self == oldSelf", "a Backtest's spec is immutable: create a new Backtest"),
)


class BacktestPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class RankedCombination(ApiModel):
    """One combination of the ranking and its figures."""

    rank: int = Field(ge=1, description="1 is the best.")
    params: dict[str, Annotated[str, Field(max_length=64)]] = Field(
        default_factory=dict, max_length=16, description="The combination's values."
    )
    score: str | None = Field(default=None, max_length=64, description="Its metric.")
    total_return: str | None = Field(default=None, max_length=64, description="Total return.")
    final_equity: str | None = Field(default=None, max_length=64, description="USDT.")
    trades: int | None = Field(default=None, ge=0, description="Round trips.")


class BacktestStatus(ApiModel):
    """The sweep's progress and, as shards finish, its ranking."""

    observed_generation: int | None = Field(default=None, ge=0, description="Spec generation.")
    phase: BacktestPhase | None = Field(default=None, description="Pending, Running, ...")
    conditions: Conditions = Field(default_factory=list, description="Completed, with reasons.")
    job: str | None = Field(default=None, max_length=63, description="The Indexed Job.")
    combinations: int | None = Field(default=None, ge=0, description="Combinations swept.")
    shards: int | None = Field(default=None, ge=0, description="Completion indexes.")
    completed_shards: int | None = Field(default=None, ge=0, description="Shards done.")
    progress: str | None = Field(default=None, max_length=16, description="completed/total.")
    best_score: str | None = Field(default=None, max_length=64, description="Best metric yet.")
    best_params: dict[str, Annotated[str, Field(max_length=64)]] = Field(
        default_factory=dict, max_length=16, description="The best combination yet."
    )
    top: list[RankedCombination] = Field(
        default_factory=list, max_length=20, description="The best combinations, ranked."
    )
    failed_combinations: int | None = Field(
        default=None, ge=0, description="Combinations that could not run (their error is in "
        "the report).",
    )  # fmt: skip
    report: str | None = Field(
        default=None, max_length=253,
        description="The ConfigMap holding the ranked table of every combination (ranked.csv).",
    )  # fmt: skip
    started_at: datetime | None = Field(default=None, description="When the Job started.")
    completed_at: datetime | None = Field(default=None, description="When it finished.")


class Backtest(ApiModel):
    """A parameter sweep run as an Indexed Job, ranked in its status."""

    api_version: Literal["trading.eternal-engine.io/v1alpha1"] = (
        "trading.eternal-engine.io/v1alpha1"
    )
    kind: Literal["Backtest"] = "Backtest"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: BacktestSpec = Field(json_schema_extra=_SPEC_RULES)
    status: BacktestStatus | None = None
