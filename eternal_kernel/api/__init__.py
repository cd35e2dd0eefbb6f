"""The typed Kubernetes API of Eternal Engine: the single source of the CRDs.

This package is the bottom layer: the operator and the runtime both import it, and it imports
nothing else of ours (checked by import-linter).
"""
