"""The allocation controller: targets into engine status, drift, and rebalancing transfers."""
