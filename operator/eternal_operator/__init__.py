"""Eternal Engine operator: Engine, Allocation, CircuitBreakerPolicy controllers, governance."""
