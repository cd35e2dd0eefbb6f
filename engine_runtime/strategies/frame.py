"""Candles and features without pandas: what a live runtime passes to a built-in strategy.

A strategy's ``features`` reads candle columns and returns indicator columns on the same index
(the interface's contract names ``pandas.DataFrame``). The built-in strategies read the candles
only by column (``candles["close"]``, ``candles.index``, ``len(candles)``) and build their result
with ``features_like``, so they accept an ``ArrayFrame`` as well, and answer in kind. They say so
with ``array_features = True``: the live market then builds its window as an ``ArrayFrame``, and
the runtime never imports pandas (about 45 MiB of its resident set). The backtester, training
and the tests pass pandas frames and get pandas frames back, from the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from .interface import Category

if TYPE_CHECKING:
    import pandas as pd

FloatArray = npt.NDArray[np.float64]


class ArrayFrame:
    """Float columns over one index of bar open times (``datetime64[ms]``, UTC)."""

    def __init__(
        self, columns: Mapping[str, npt.ArrayLike], index: npt.NDArray[np.datetime64]
    ) -> None:
        self.index = index
        self._columns = {
            name: np.asarray(values, dtype=np.float64) for name, values in columns.items()
        }
        for name, values in self._columns.items():
            if values.shape != index.shape:
                raise ValueError(f"column {name}: {values.shape} values for {len(index)} bars")

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def __getitem__(self, name: str) -> FloatArray:
        return self._columns[name]

    def __len__(self) -> int:
        return len(self.index)

    def last_row(self) -> dict[str, float]:
        """The newest bar's values (what the live market keeps)."""
        if not len(self):
            return {}
        return {name: float(values[-1]) for name, values in self._columns.items()}


Frame = TypeVar("Frame", "pd.DataFrame", ArrayFrame)
"""Candles in, features out, of one kind: a pandas frame or an ``ArrayFrame``."""


def features_like(candles: Frame, columns: Mapping[str, npt.ArrayLike]) -> Frame:
    """``columns`` on the index of ``candles``, of the same kind as ``candles``."""
    if isinstance(candles, ArrayFrame):
        return ArrayFrame(columns, candles.index)
    import pandas as pd  # a pandas frame came in: pandas is loaded already

    return pd.DataFrame(dict(columns), index=candles.index)


def open_times_ms(candles: pd.DataFrame | ArrayFrame) -> npt.NDArray[np.int64]:
    """The bars' open times in epoch milliseconds."""
    if isinstance(candles, ArrayFrame):
        return candles.index.astype("datetime64[ms]").astype(np.int64)
    import pandas as pd

    out: npt.NDArray[np.int64] = pd.DatetimeIndex(candles.index).as_unit("ms").asi8
    return out


class ArrayFeatures(Protocol):
    """A strategy whose ``features`` takes an ``ArrayFrame`` too (``array_features``)."""

    array_features: ClassVar[bool]

    def features(self, symbol: str, category: Category, candles: ArrayFrame) -> ArrayFrame: ...
