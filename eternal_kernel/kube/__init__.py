"""Access to the Kubernetes API server that the operator and the runtime share: kubeconfig or
in-cluster configuration through lightkube (merged KUBECONFIG paths, token files re-read, exec
credentials), its requests sent over aiohttp."""
