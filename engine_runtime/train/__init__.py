"""Training of the meta-trend model (``python -m engine_runtime.train``) and its artifact.

This package's ``__init__`` imports nothing: the live runtime imports ``artifact`` alone, and
only the training modules load the backtester, xgboost and matplotlib.
"""
