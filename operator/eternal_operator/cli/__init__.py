"""`kubectl eternal`, the operators' kubectl plugin (entry point `kubectl-eternal`).

`views`, `governance` and `report` build what is shown from the objects as the API server returns
them (plain functions, tested without a cluster); `client` is the connection (a sync httpx2
client on the kernel's kubeconfig, configured as kubectl is); `main` holds the thin command
handlers.
"""
