"""A stand-in for the kubelet (and the Job controller) on a machine without one: runs the pods of
the operator's Deployments and Jobs as local processes. A development and test tool; the
operator knows nothing of it."""
