"""The SMA crossover of bench/backtest_bench.py in NautilusTrader's BacktestEngine.

Runs in the nautilus environment (bench/peers/env.sh nautilus: NautilusTrader 1.221.0 needs
pandas < 3), not in the project's: it imports nothing of the project. The bench starts it as

    python bench/peers/nautilus_sma.py CANDLES.parquet --fast 10 --slow 20 --fee 0.00055 \
        --cash 1000000 [--repeat 2]

and reads one JSON object from its stdout: ``seconds`` (CPU seconds, best of ``--repeat``:
bars built from the frame, engine set up and run), ``finalEquity``, ``fills``.

The model, as close to ours as Nautilus allows:

* a linear USDT perpetual, ``BTCUSDT-PERP.BYBIT``, netting, margin account of ``--cash`` USDT;
  prices at 8 decimals (the candles' floats rounded there: below 1e-8 USDT a fill);
* 1-minute bars of the same candles, ``ts_init`` at each bar's close (Nautilus's convention for
  bar execution);
* on each bar, SMA(fast) and SMA(slow) of the closes (Nautilus's own indicators); a cross (fast
  below slow on the bar before, above on this one, or the reverse) sends one MARKET order of 1
  unit, 2 to flip from the other side;
* the order fills against the bar just closed: Nautilus has no "fill at the next bar's open" for
  bar data. On the bench's candles every bar opens at the previous close but at month
  boundaries, so the price is the next bar's open all the same unless a cross falls on a
  month's last minute (the bench lists those: none for its pairs and year);
* the bars' volume is left out (the wrangler's default, 1e6, stands in): Nautilus makes each bar
  an L1 book whose size is the bar's volume, and a 1-unit order on a 0.08 BTC bar would walk it
  in two fills a price step (1e-8) apart; ours, vectorbt and backtesting.py fill the whole
  quantity at one price;
* the fee is the instrument's taker fee (``--fee``) on every fill's notional;
* final equity: the account's balance plus the open position's unrealised PnL at the last close
  (no closing fill), as ours and vectorbt count it.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from decimal import Decimal

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import SimpleMovingAverage
from nautilus_trader.model.currencies import BTC, USDT
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CryptoPerpetual
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.trading.strategy import Strategy

VENUE = Venue("BYBIT")
PRICE_PRECISION = 8
MINUTE_NS = 60_000_000_000
BOOK_SIZE = 1e6


class SmaCrossConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    bar_type: BarType
    fast: int
    slow: int


class SmaCross(Strategy):
    def __init__(self, config: SmaCrossConfig) -> None:
        super().__init__(config)
        self.fast = SimpleMovingAverage(config.fast)
        self.slow = SimpleMovingAverage(config.slow)
        self.prev: tuple[float, float] | None = None
        self.target = 0

    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.config.instrument_id)
        self.one = self.instrument.make_qty(1)
        self.two = self.instrument.make_qty(2)
        self.register_indicator_for_bars(self.config.bar_type, self.fast)
        self.register_indicator_for_bars(self.config.bar_type, self.slow)
        self.subscribe_bars(self.config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        if not self.slow.initialized:
            return
        now = (self.fast.value, self.slow.value)
        prev, self.prev = self.prev, now
        if prev is None:
            return
        if prev[0] < prev[1] and now[0] > now[1]:
            want = 1
        elif prev[0] > prev[1] and now[0] < now[1]:
            want = -1
        else:
            return
        if want == self.target:
            return
        qty = self.two if self.target else self.one
        self.target = want
        side = OrderSide.BUY if want > 0 else OrderSide.SELL
        order = self.order_factory.market(self.config.instrument_id, side, qty)
        self.submit_order(order)


def instrument(fee: Decimal) -> CryptoPerpetual:
    return CryptoPerpetual(
        instrument_id=InstrumentId(Symbol("BTCUSDT-PERP"), VENUE),
        raw_symbol=Symbol("BTCUSDT"),
        base_currency=BTC,
        quote_currency=USDT,
        settlement_currency=USDT,
        is_inverse=False,
        price_precision=PRICE_PRECISION,
        price_increment=Price(10**-PRICE_PRECISION, PRICE_PRECISION),
        size_precision=3,
        size_increment=Quantity.from_str("0.001"),
        max_quantity=None,
        min_quantity=Quantity.from_str("0.001"),
        max_notional=None,
        min_notional=None,
        max_price=None,
        min_price=None,
        margin_init=Decimal("0.05"),
        margin_maint=Decimal("0.025"),
        maker_fee=fee,
        taker_fee=fee,
        ts_event=0,
        ts_init=0,
    )


def run(candles: pd.DataFrame, fast: int, slow: int, fee: Decimal, cash: int) -> dict[str, float]:
    started = time.process_time()
    perp = instrument(fee)
    bar_type = BarType.from_str(f"{perp.id}-1-MINUTE-LAST-EXTERNAL")
    prices = candles[["open", "high", "low", "close"]]  # no volume: see the docstring
    bars = BarDataWrangler(bar_type, perp).process(prices, BOOK_SIZE, ts_init_delta=MINUTE_NS)
    engine = BacktestEngine(
        BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
    )
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USDT,
        starting_balances=[Money(cash, USDT)],
        default_leverage=Decimal(1),
    )
    engine.add_instrument(perp)
    engine.add_data(bars)
    engine.add_strategy(SmaCross(SmaCrossConfig(perp.id, bar_type, fast, slow)))
    engine.run()
    account = engine.portfolio.account(VENUE)
    last = perp.make_price(candles["close"].iloc[-1])
    equity = account.balance_total(USDT).as_decimal()
    for position in engine.cache.positions_open():
        equity += position.unrealized_pnl(last).as_decimal()
    elapsed = time.process_time() - started
    fills = sum(len(o.trade_ids) for o in engine.cache.orders())
    engine.dispose()
    return {"seconds": elapsed, "finalEquity": float(equity), "fills": float(fills)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("candles", help="a parquet file: open, high, low, close, volume by time")
    parser.add_argument("--fast", type=int, required=True)
    parser.add_argument("--slow", type=int, required=True)
    parser.add_argument("--fee", type=Decimal, required=True)
    parser.add_argument("--cash", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    candles = pd.read_parquet(args.candles)
    runs = [run(candles, args.fast, args.slow, args.fee, args.cash) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    print(json.dumps(best))


if __name__ == "__main__":
    main()
