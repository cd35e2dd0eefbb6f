"""The router: the wire (REST, WebSocket, auth, rate limits, admin, faults), the clock and the
heartbeat, and order entry; it composes the matching engines and the ledger."""
