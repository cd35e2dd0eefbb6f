"""The ModelTraining controller: a Job that trains a meta-model and publishes it."""
