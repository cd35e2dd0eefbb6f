"""Eternal Engine's kernel: the contract the operator and the runtime share.

The typed Kubernetes API and CRD generation, the runtime's configuration, the circuit-breaker
rules and the directive codec, the trading domain model, the classified Bybit client with the
flatten plan, and the migrations. Both `eternal_operator` and `engine_runtime` import it; it
imports neither (import-linter's layers contract). It is imported by every runtime, so nothing
here imports a heavy library at module level.
"""
