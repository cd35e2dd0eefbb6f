"""The circuit-breaker rules: NAV per unit, the high-water mark, levels, loss limits and halts,
and the codec between the governance state and the policy's status.

Plain functions over plain data: the operator's governance controller
(eternal_operator.controllers.policy) feeds them observations and writes what they decide; the
backtester calls the same functions bar by bar.
"""
