"""Talking to Bybit V5 (or the paper venue): pybit sessions and account-wide actions."""
