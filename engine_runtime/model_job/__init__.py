"""A ModelTraining's Job: train (`engine_runtime.train`) into a scratch directory, then publish
the artifact into the ConfigMap the operator made for it (`publish`)."""
