"""Eternal Engine operator: Engine, Allocation and CircuitBreakerPolicy controllers and governance."""
