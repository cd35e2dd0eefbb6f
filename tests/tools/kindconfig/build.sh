#!/usr/bin/env bash
# Builds (or finds) kindconfig, which decodes kind cluster configs with kind's own Go types
# (sigs.k8s.io/kind, pinned in go.mod), and prints the path of the binary on the last line.
#
# Like tests/tools/helm/build.sh: built from the Go module proxy, cached under
# ${EE_CACHE_DIR:-~/.cache/eternal-engine}/kindconfig keyed by the contents of go.mod, go.sum,
# main.go and this script (not the checkout's path), never written into the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(awk '$1 == "sigs.k8s.io/kind" {print $2}' "$here/go.mod" | head -n1)
log() { printf 'kindconfig: %s\n' "$*" >&2; }

command -v go >/dev/null || { log "the Go toolchain is required (install Go >= 1.24)"; exit 1; }

cache_root=${EE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eternal-engine}
key=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" "$here/build.sh" | sha256sum | cut -c1-12)
out="$cache_root/kindconfig/$version-$key"
mkdir -p "$cache_root/kindconfig"

exec 9>"$cache_root/kindconfig/.lock"
flock 9
if [[ -x "$out/kindconfig" ]]; then
  log "reusing $out/kindconfig"
  echo "$out/kindconfig"
  exit 0
fi

tmp=$(mktemp -d "$cache_root/kindconfig/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$here"
log "building kindconfig (kind $version) into $out"
CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o "$tmp/kindconfig" .
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out/kindconfig"
