"""Portfolio governance: NAV per unit, the high-water mark, circuit-breaker levels and halts.

The modules here are plain functions over plain data; the kopf daemon in
eternal_operator.controllers.policy feeds them observations and writes what they decide.
"""
