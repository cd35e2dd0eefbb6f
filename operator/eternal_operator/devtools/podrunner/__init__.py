"""A stand-in for the kubelet on a machine without one: runs engine Deployments' pods as local
processes. A development and test tool; the operator knows nothing of it."""
