"""The wallet and position views Bybit shows, over the ledger's margin arithmetic.

Other coins than USDT count toward total equity at their spot price but are not collateral
(the ledger's `margin` module has the USDT margin rules).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from paper_venue.decimals import ZERO, fmt, fmt_fixed8
from paper_venue.instruments import Category
from paper_venue.ledger.accounts import Account
from paper_venue.ledger.margin import Margin, account_margin, spot_locked
from paper_venue.ledger.positions import Position

BREAK_EVEN_MIN_FEE = Decimal("0.00055")
"""Bybit's break-even formula charges at least this taker rate (position/position.mdx)."""

if TYPE_CHECKING:
    from paper_venue.router.state import VenueState


def locked(venue: VenueState, uid: int, coin: str) -> Decimal:
    """Coin held by the account's open spot orders."""
    return spot_locked(venue.open_orders(uid), coin)


def margin(venue: VenueState, acct: Account) -> Margin:
    """The account's USDT margin position right now, at the market's prices."""
    return account_margin(
        acct,
        lambda: venue.open_orders(acct.uid),
        mark=venue.market.price,
        maintenance_rate=lambda symbol: (
            venue.instrument(Category.LINEAR, symbol).maintenance_margin_rate
        ),
        default_leverage=venue.default_leverage,
    )


def usd_price(venue: VenueState, coin: str) -> Decimal:
    if coin in ("USDT", "USDC"):
        return Decimal(1)
    symbol = f"{coin}USDT"
    if symbol in venue.market.states:
        return venue.market.price(symbol)
    return ZERO


def wallet_wire(venue: VenueState, acct: Account) -> dict[str, object]:
    """One account's entry of /v5/account/wallet-balance and of the `wallet` stream."""
    m = margin(venue, acct)
    coins: list[dict[str, object]] = []
    total_wallet = total_equity = ZERO
    coin_names = sorted(set(acct.unified) | {"USDT"})
    for coin in coin_names:
        bal = acct.balance(coin)
        upnl = m.upnl if coin == "USDT" else ZERO
        lock = locked(venue, acct.uid, coin)
        px = usd_price(venue, coin)
        equity = bal + upnl
        total_wallet += bal * px
        total_equity += equity * px
        free = bal - lock - (m.position_im + m.order_im if coin == "USDT" else ZERO)
        coins.append(
            {
                "availableToBorrow": "",
                "bonus": "0",
                "accruedInterest": "0",
                "availableToWithdraw": "",
                "totalOrderIM": fmt_fixed8(m.order_im if coin == "USDT" else ZERO),
                "equity": fmt_fixed8(equity),
                "totalPositionMM": fmt_fixed8(m.position_mm if coin == "USDT" else ZERO),
                "usdValue": fmt_fixed8(equity * px),
                "spotHedgingQty": "0",
                "unrealisedPnl": fmt_fixed8(upnl),
                "collateralSwitch": coin == "USDT",
                "borrowAmount": "0",
                "totalPositionIM": fmt_fixed8(m.position_im if coin == "USDT" else ZERO),
                "walletBalance": fmt_fixed8(bal),
                "cumRealisedPnl": fmt_fixed8(acct.cum_realised.get(coin, ZERO)),
                "locked": fmt_fixed8(lock),
                "marginCollateral": coin == "USDT",
                "coin": coin,
                "free": fmt_fixed8(max(ZERO, free)),
                "spotBorrow": "0",
                "colRes": "0",
            }
        )
    im, mm = m.position_im + m.order_im, m.position_mm
    mb = m.margin_balance
    im_rate = fmt(im / mb, 4) if mb > 0 else "0"
    mm_rate = fmt(mm / mb, 4) if mb > 0 else "0"
    # The margin is computed at the mark price already: the "ByMp" fields are the same.
    return {
        "totalEquity": fmt_fixed8(total_equity),
        "accountIMRate": im_rate,
        "accountIMRateByMp": im_rate,
        "totalMarginBalance": fmt_fixed8(mb),
        "totalInitialMargin": fmt_fixed8(im),
        "totalInitialMarginByMp": fmt_fixed8(im),
        "accountType": "UNIFIED",
        "totalAvailableBalance": fmt_fixed8(max(ZERO, m.available)),
        "accountMMRate": mm_rate,
        "accountMMRateByMp": mm_rate,
        "totalPerpUPL": fmt_fixed8(m.upnl),
        "totalWalletBalance": fmt_fixed8(total_wallet),
        "accountLTV": "0",
        "totalMaintenanceMargin": fmt_fixed8(mm),
        "totalMaintenanceMarginByMp": fmt_fixed8(mm),
        "coin": coins,
    }


def position_wire(venue: VenueState, acct: Account, pos: Position) -> dict[str, object]:
    """A position as /v5/position/list and the `position` stream show it."""
    inst = venue.instrument(Category.LINEAR, pos.symbol)
    pd, qd = inst.price_decimals, inst.qty_decimals
    mark = venue.market.price(pos.symbol)
    m = margin(venue, acct)
    liq = pos.liq_price(m.margin_balance, mark, inst.maintenance_margin_rate)
    value = pos.value(mark)
    entry_value = abs(pos.size) * pos.entry
    unset = fmt(ZERO, pd)  # Bybit's "0.00" (at the price scale) for no TP/SL/trailing stop
    position_im = fmt_fixed8(value / pos.leverage)
    position_mm = fmt_fixed8(value * inst.maintenance_margin_rate)
    taker = max(venue.settings.fees.linear_taker, BREAK_EVEN_MIN_FEE)
    return {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": pos.symbol,
        "side": pos.side,
        "size": fmt(abs(pos.size), qd),
        "avgPrice": fmt_fixed8(pos.entry),
        "positionValue": fmt_fixed8(entry_value),
        "tradeMode": 0,
        "positionStatus": pos.status,
        "autoAddMargin": 0,
        "adlRankIndicator": 2 if pos.size else 0,
        "leverage": fmt_fixed8(pos.leverage),
        "positionBalance": fmt_fixed8(value / pos.leverage if pos.size else ZERO),
        "markPrice": fmt(mark, pd),
        "liqPrice": fmt(liq, pd) if liq is not None else "",
        "bustPrice": "",
        "positionMM": position_mm,
        "positionMMByMp": position_mm,
        "positionIM": position_im,
        "positionIMByMp": position_im,
        "breakEvenPrice": fmt_fixed8(pos.break_even(taker)),
        "tpslMode": "Full",
        "takeProfit": fmt(pos.take_profit, pd) if pos.take_profit is not None else unset,
        "stopLoss": fmt(pos.stop_loss, pd) if pos.stop_loss is not None else unset,
        "trailingStop": unset,
        "unrealisedPnl": fmt_fixed8(pos.unrealised(mark)),
        "curRealisedPnl": fmt_fixed8(pos.cur_realised),
        "cumRealisedPnl": fmt_fixed8(acct.cum_realised.get(f"pos:{pos.symbol}", ZERO)),
        "sessionAvgPrice": "",
        "seq": pos.seq,
        "isReduceOnly": False,
        "mmrSysUpdatedTime": "",
        "leverageSysUpdatedTime": "",
        "createdTime": str(pos.created_ms),
        "updatedTime": str(pos.updated_ms),
        "openTime": pos.created_ms if pos.size else 0,
    }
