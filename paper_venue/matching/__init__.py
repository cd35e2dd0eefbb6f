"""Matching: one engine per instrument (resting orders against the synthetic book), orders and
executions, and the fill arithmetic the backtester shares. It knows no account."""
