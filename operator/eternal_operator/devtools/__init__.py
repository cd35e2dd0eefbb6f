"""Development and test tooling: the local control plane and, later, the local stack.

Nothing in the operator or the runtime imports this package.
"""
