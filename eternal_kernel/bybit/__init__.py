"""Talking to Bybit V5 (or the paper venue): the classified client (raw calls, domain types,
errors mapped once), the streams, pybit sessions, and the account-wide flatten plan that the
runtime and the operator share."""
