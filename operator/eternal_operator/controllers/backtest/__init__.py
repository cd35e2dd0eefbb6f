"""The Backtest controller: a sweep as an Indexed Job, its shards' rows ranked into status."""
