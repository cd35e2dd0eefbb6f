#!/usr/bin/env bash
# Deletes the kind cluster of scripts/kind-up.sh (`make kind-down`), with everything in it.
# KIND_CLUSTER_NAME as for kind-up.sh (eternal-engine). Nothing to delete is not an error.
set -euo pipefail

cluster=${KIND_CLUSTER_NAME:-eternal-engine}
die() { printf 'kind-down: error: %s\n' "$*" >&2; exit 1; }

command -v kind >/dev/null 2>&1 || die "kind is not on PATH: install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
if kind get clusters 2>/dev/null | grep -qx -- "$cluster"; then
  printf '==> deleting kind cluster %s\n' "$cluster"
  kind delete cluster --name "$cluster"
else
  printf '==> no kind cluster %s: nothing to delete\n' "$cluster"
fi
