"""Capital allocation: weights, drift, rebalancing and contribution plans, as plain functions."""
