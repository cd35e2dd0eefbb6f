"""Listed instruments and their filters (tick size, lot size, minimum notional).

Both categories list the same symbols: `spot` (base coin against USDT) and `linear`
(USDT-margined perpetuals). Filters follow the values Bybit publishes for these pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from paper_venue.decimals import decimals_of


class Category(StrEnum):
    """Bybit product types the venue lists."""

    SPOT = "spot"
    LINEAR = "linear"


@dataclass(frozen=True)
class Instrument:
    """One tradable symbol in one category."""

    category: Category
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_leverage: Decimal
    maintenance_margin_rate: Decimal
    symbol_id: int = 0
    """Bybit's numeric `symbolId`: the symbol's place in the venue's list, from 1."""
    funding_cap: Decimal = Decimal("0.00375")
    """Linear: the largest funding rate either way (`fundingCap`, upper/lowerFundingRate)."""

    @property
    def price_decimals(self) -> int:
        """Bybit's priceScale: the decimals of the tick as published ("0.10" has two)."""
        return max(0, -int(self.tick_size.as_tuple().exponent))

    @property
    def qty_decimals(self) -> int:
        return decimals_of(self.qty_step)


_SPECS: dict[str, tuple[str, str, str, str, str, str]] = {
    # symbol: linear tick, spot tick, linear qty step, spot qty step, max leverage, mmr
    "BTCUSDT": ("0.10", "0.01", "0.001", "0.000001", "100", "0.005"),
    "ETHUSDT": ("0.01", "0.01", "0.01", "0.00001", "100", "0.005"),
    "SOLUSDT": ("0.010", "0.01", "0.1", "0.001", "50", "0.01"),
}
_GENERIC = ("0.0001", "0.0001", "1", "0.01", "25", "0.01")


def build_instruments(symbols: list[str]) -> dict[tuple[Category, str], Instrument]:
    """Spot and linear instruments for each `XXXUSDT` symbol."""
    out: dict[tuple[Category, str], Instrument] = {}
    for symbol_id, symbol in enumerate(symbols, start=1):
        if not symbol.endswith("USDT") or len(symbol) <= 4:
            raise ValueError(f"{symbol}: only USDT-quoted symbols are listed")
        tick, spot_tick, lin_step, spot_step, lev, mmr = _SPECS.get(symbol, _GENERIC)
        base = symbol[:-4]
        out[(Category.LINEAR, symbol)] = Instrument(
            category=Category.LINEAR,
            symbol=symbol,
            base=base,
            quote="USDT",
            tick_size=Decimal(tick),
            qty_step=Decimal(lin_step),
            min_qty=Decimal(lin_step),
            max_qty=Decimal(lin_step) * 1_000_000,
            min_notional=Decimal(5),
            max_leverage=Decimal(lev),
            maintenance_margin_rate=Decimal(mmr),
            symbol_id=symbol_id,
        )
        out[(Category.SPOT, symbol)] = Instrument(
            category=Category.SPOT,
            symbol=symbol,
            base=base,
            quote="USDT",
            tick_size=Decimal(spot_tick),
            qty_step=Decimal(spot_step),
            min_qty=Decimal(spot_step),
            max_qty=Decimal(spot_step) * 10_000_000,
            min_notional=Decimal(1),
            max_leverage=Decimal(1),
            maintenance_margin_rate=Decimal(0),
            symbol_id=symbol_id,
        )
    return out


def instrument_info(
    inst: Instrument, launch_ms: int, funding_interval_minutes: int = 480
) -> dict[str, object]:
    """The `list` entry of /v5/market/instruments-info for one instrument."""
    tick = str(inst.tick_size)
    if inst.category is Category.SPOT:
        return {
            "symbolId": inst.symbol_id,
            "symbol": inst.symbol,
            "baseCoin": inst.base,
            "quoteCoin": inst.quote,
            "innovation": "0",
            "status": "Trading",
            "marginTrading": "none",
            "stTag": "0",
            "lotSizeFilter": {
                "basePrecision": str(inst.qty_step),
                "quotePrecision": "0.00000001",
                "minOrderQty": str(inst.min_qty),
                "maxOrderQty": str(inst.max_qty),
                "minOrderAmt": str(inst.min_notional),
                "maxOrderAmt": "2000000",
                "maxLimitOrderQty": str(inst.max_qty),
                "maxMarketOrderQty": str(inst.max_qty),
                "postOnlyMaxLimitOrderSize": str(inst.max_qty),
            },
            "priceFilter": {"tickSize": tick},
            "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
            "symbolType": "",
        }
    cap = str(inst.funding_cap)
    return {
        "symbol": inst.symbol,
        "symbolId": inst.symbol_id,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": inst.base,
        "quoteCoin": inst.quote,
        "launchTime": str(launch_ms),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(inst.price_decimals),
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": f"{inst.max_leverage}.00",
            "leverageStep": "0.01",
        },
        "priceFilter": {"minPrice": tick, "maxPrice": "1999999.80", "tickSize": tick},
        "lotSizeFilter": {
            "maxOrderQty": str(inst.max_qty),
            "minOrderQty": str(inst.min_qty),
            "qtyStep": str(inst.qty_step),
            "postOnlyMaxOrderQty": str(inst.max_qty),
            "maxMktOrderQty": str(inst.max_qty / 10),
            "minNotionalValue": str(inst.min_notional),
        },
        "unifiedMarginTrade": True,
        "fundingInterval": funding_interval_minutes,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": cap,
        "lowerFundingRate": f"-{cap}",
        "isPreListing": False,
        "preListingInfo": None,
        # The linear price band (trading.PRICE_BAND): a limit more than 10% through the
        # last price is refused.
        "riskParameters": {"priceLimitRatioX": "0.1", "priceLimitRatioY": "0.1"},
        "symbolType": "",
        "forbidUplWithdrawal": False,
    }
