"""Shared test data and helpers (on sys.path through pytest's `pythonpath`)."""
