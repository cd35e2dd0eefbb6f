"""The per-engine runtime, the Bybit-compatible paper venue, strategies and the backtester."""
