"""`kubectl eternal`, the operators' kubectl plugin (entry point `kubectl-eternal`).

`views`, `governance` and `report` build what is shown from the objects as the API server returns
them (plain functions, tested without a cluster); `client` is the connection (the `kubernetes`
client, configured as kubectl is); `main` holds the thin command handlers.
"""
