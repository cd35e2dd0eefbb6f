#!/usr/bin/env bash
# Builds (or finds) the pinned helm CLI and prints the path of the binary on the last line.
#
# No PyPI, Debian or other registry package here ships helm, so, like the control plane, it is
# built from the Go module pinned in go.mod (helm.sh/helm/v3) through the Go module proxy.
# Order of preference:
#   1. $EE_HELM, if it names an executable (a helm you trust, e.g. on a CI image);
#   2. a previous build in the cache, keyed by go.mod, go.sum and this script;
#   3. a fresh build (about 2-3 minutes on 2 cores, cold).
# Outputs live under ${EE_CACHE_DIR:-~/.cache/eternal-engine}/helm, never in the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "require" && $2 == "helm.sh/helm/v3" {print $3}' "$here/go.mod" | head -n1)
prefix=helm
# shellcheck source=../progress.sh
source "$here/../progress.sh"

if [[ -n "${EE_HELM:-}" ]]; then
  [[ -x "$EE_HELM" ]] || { log "EE_HELM=$EE_HELM is not executable"; exit 1; }
  echo "$EE_HELM"
  exit 0
fi

command -v go >/dev/null || { log "the Go toolchain is required to build helm (install Go >= 1.24)"; exit 1; }

cache_root=${EE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eternal-engine}
# Content only (not the checkout's path): every clone of the same pins shares the cache.
key=$({ cat "$here/go.mod" "$here/go.sum"; recipe "$here/build.sh"; } | sha256sum | cut -c1-12)
out="$cache_root/helm/$version-$key"
mkdir -p "$cache_root/helm"

exec 9>"$cache_root/helm/.lock"
flock 9
if [[ -x "$out/helm" ]]; then
  log "reusing $out/helm"
  echo "$out/helm"
  exit 0
fi

tmp=$(mktemp -d "$cache_root/helm/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
# The same ldflags as helm's own Makefile: its version, and the Kubernetes version it assumes
# for `helm template`/`helm lint` (from the client-go it is built with: v0.34 -> 1.34).
k8s=$(go list -f '{{.Version}}' -m k8s.io/client-go)
k8s_minor=$(cut -d. -f2 <<<"$k8s")
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done
log "cold build into $out"
step "helm $version (Kubernetes 1.$k8s_minor)" "about 3 min"
go build -trimpath -ldflags "$ldflags" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm
step_done
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out/helm"
