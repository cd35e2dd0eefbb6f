"""The governance controller: one loop per CircuitBreakerPolicy."""
