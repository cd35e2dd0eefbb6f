#!/usr/bin/env bash
# Builds (or finds) kube-apiserver, etcd, kube-controller-manager and, when none is on PATH, kubectl;
# prints the folder. The controller manager runs only the garbage collector and namespace controllers,
# so owner references and namespace deletion behave as on a real cluster.
#
# Order of preference:
#   1. $KUBEBUILDER_ASSETS, if it holds executable kube-apiserver and etcd (setup-envtest users);
#   2. a previous build in the cache, keyed by this module's go.sum;
#   3. a fresh build from the Go modules pinned in go.mod (cold: several minutes on 2 cores).
# Build outputs live under ${EE_CACHE_DIR:-~/.cache/eternal-engine}, never in the repository.
# The last line on stdout is the folder holding the binaries; progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$here/go.mod" | head -n1)
prefix=controlplane
# shellcheck source=../progress.sh
source "$here/../progress.sh"

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if [[ -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS (no kube-controller-manager there: no garbage collection)"
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable kube-apiserver and etcd; building instead"
fi

command -v go >/dev/null || { log "the Go toolchain is required to build the control plane (install Go >= 1.24)"; exit 1; }

cache_root=${EE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eternal-engine}
# Content only (not the checkout's path): every clone of the same pins shares the cache.
key=$({ cat "$here/go.mod" "$here/go.sum"; recipe "$here/build.sh"; } | sha256sum | cut -c1-12)
out="$cache_root/controlplane/$k8s_version-$key"
mkdir -p "$cache_root/controlplane"

need_kubectl=0
command -v kubectl >/dev/null || need_kubectl=1

complete() {
  [[ -x "$out/kube-apiserver" && -x "$out/etcd" && -x "$out/kube-controller-manager" ]] || return 1
  [[ $need_kubectl == 0 || -x "$out/kubectl" ]]
}

exec 9>"$cache_root/controlplane/.lock"
flock 9
if complete; then
  log "reusing $out"
  echo "$out"
  exit 0
fi

minor=${k8s_version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done

tmp=$(mktemp -d "$cache_root/controlplane/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
log "cold build into $out: etcd, kube-apiserver, kube-controller-manager (2 cores: about 8 min)"
step "etcd (go.etcd.io/etcd/server/v3)" "about 1 min"
go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" ./cmd/etcd
step_done
step "kube-apiserver $k8s_version" "about 3 min"
go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
step_done
step "kube-controller-manager $k8s_version" "about 3 min"
go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
step_done
if [[ $need_kubectl == 1 ]]; then
  log "no kubectl on PATH: building it too"
  step "kubectl $k8s_version" "about 2 min"
  go build -trimpath -ldflags "$ldflags" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
  step_done
fi
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
log "control plane built in $(( $(date +%s) - start ))s"
echo "$out"
