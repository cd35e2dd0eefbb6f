# shellcheck shell=bash
# Progress lines of the build scripts, on stderr (stdout's last line is their answer).
# Sourced after `prefix` is set:  step "kube-apiserver v1.34.1" "about 3 min"; go build ...; step_done
# prints "controlplane: building kube-apiserver v1.34.1 (about 3 min)..." then
# "controlplane: built kube-apiserver v1.34.1 in 2m41s". The scripts' cache keys skip the lines
# that only print, so rewording progress rebuilds nothing.

log() { printf '%s: %s\n' "${prefix:?set prefix before sourcing progress.sh}" "$*" >&2; }

_step_name=""
_step_start=0
step() {
  _step_name=$1
  _step_start=$SECONDS
  log "building $1${2:+ ($2)}..."
}

step_done() {
  local took=$(( SECONDS - _step_start ))
  log "built $_step_name in $(( took / 60 ))m$(( took % 60 ))s"
}

# The build recipe of a script without its comments and progress lines: what a cache key hashes.
recipe() {
  grep -vE '^[[:space:]]*(#|log |step |step_done)' "$1"
}
