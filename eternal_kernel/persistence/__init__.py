"""Versioned SQL migrations (`migrate`), the runtime's schema (`migrations/`), and the stored
backtest results that the backtest shards write and the operator reads."""
