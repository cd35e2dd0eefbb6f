#!/usr/bin/env bash
# Installs the system packages the project needs on a fresh Debian machine, and nothing twice.
#   Go >= 1.24     builds kube-apiserver, etcd and kube-controller-manager (Debian: golang-go)
#   python3 3.11+  the project itself (must be installed); its venv module (Debian: python3-venv)
#   openssl        the control plane's service-account signing key (Debian: openssl)
#   redis-server   Redis for the runtime and governance (Debian: redis-server)
#   postgresql     PostgreSQL for the runtime and governance (Debian: postgresql)
#   promtool       unit tests of the alerting rules, `promtool test rules` (Debian: prometheus);
#                  the same package's /usr/bin/prometheus evaluates the rules under `make up`
#   alertmanager   delivers those alerts under `make up` and in the e2e alert test
#                  (Debian: prometheus-alertmanager, /usr/bin/prometheus-alertmanager)
# kubectl: used from PATH when present; otherwise tests/tools/controlplane/build.sh builds it
# from the same pinned Kubernetes release (see README, "Where the tools come from").
set -euo pipefail

missing=()
command -v go >/dev/null || missing+=(golang-go)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v openssl >/dev/null || missing+=(openssl)
command -v redis-server >/dev/null || missing+=(redis-server)
{ command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } \
  || missing+=(postgresql)
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)

if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The Debian packages start system-wide services; the project runs its own on loopback and
  # starts the prometheus and alertmanager binaries itself (devtools/monitoring.py). One unit at
  # a time: systemctl stops at the first unit it does not know.
  for unit in redis-server postgresql prometheus prometheus-alertmanager; do
    $sudo systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
fi

go_minor=$(go env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p')
((${go_minor:-0} >= 24)) \
  || { echo "bootstrap: Go >= 1.24 is required (https://go.dev/doc/install)" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "bootstrap: Python >= 3.11 is required" >&2; exit 1; }
