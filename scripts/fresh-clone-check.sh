#!/usr/bin/env bash
# The README's promise, checked: in a fresh clone in another directory, `make up` comes up on
# the embedded defaults with the control plane reused from the cache (keyed by file contents,
# not by the checkout's path), `make status` sees it, and `make down` stops it. CI runs this
# after `make test`, which CI itself runs on a fresh clone: together, the README's two commands.
# Prints how long the clone took to come up (venv included).
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
limit=${FRESH_CLONE_TIMEOUT_SECONDS:-900}
work=$(mktemp -d "${TMPDIR:-/tmp}/ee-fresh-clone.XXXXXX")
clone="$work/eternal-engine"
log="$work/up.log"
pid=""

say() { printf 'fresh-clone: %s\n' "$*" >&2; }

finish() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    (cd "$clone" && make -s down >/dev/null 2>&1) || true
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap finish EXIT

fail() {
  say "FAILED: $*"
  say "last lines of make up:"
  tail -n 40 "$log" >&2 || true
  exit 1
}

say "cloning $src into $clone"
git clone -q "$src" "$clone"
cd "$clone"
started=$SECONDS
say "make up (at most ${limit}s)"
: >"$log"
setsid make up >"$log" 2>&1 &
pid=$!
until grep -q "Eternal Engine is up" "$log"; do
  kill -0 "$pid" 2>/dev/null || fail "make up exited before the stack was up"
  ((SECONDS - started < limit)) || fail "not up within ${limit}s"
  sleep 2
done
say "up in $((SECONDS - started))s"
grep -q "controlplane: reusing" "$log" || fail "the control plane was built again, not reused"
say "the control plane was reused: $(grep -m1 'controlplane: reusing' "$log")"
make -s status || fail "make status"
make -s down
wait "$pid" || true
pid=""
say "make down stopped it"
