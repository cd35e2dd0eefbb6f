#!/usr/bin/env bash
# Builds (or finds) the virtualenv of one peer of bench/backtest_bench.py and prints its folder on
# the last line of stdout (progress on stderr):
#   bash bench/peers/env.sh vectorbt   # the runtime's locked dependencies + vectorbt (numba,
#                                      # llvmlite) + this checkout (editable): the bench runs here
#   bash bench/peers/env.sh nautilus   # NautilusTrader alone (it needs pandas < 3, the runtime
#                                      # pandas >= 3); the bench runs it as a child process
# The peers never enter the project's .venv, requirements.lock or the runtime image. Each env is
# installed with uv from its hashed lock (bench/peers/NAME.lock, `make bench-peers-lock`) under
# ${EE_CACHE_DIR:-~/.cache/eternal-engine}/bench-peers, keyed by the lock and this script.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
name=${1:?usage: env.sh vectorbt|nautilus}
prefix="bench-peers $name"
# shellcheck source=../../tests/tools/progress.sh
source "$root/tests/tools/progress.sh"

lock="$here/$name.lock"
[[ -f "$lock" ]] || { log "no $lock (vectorbt or nautilus)"; exit 1; }
uv="$root/.venv/bin/uv"
[[ -x "$uv" ]] || { log "run make install first (uv comes from the project's .venv)"; exit 1; }

cache_root=${EE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eternal-engine}
# Content only (not the checkout's path): every clone of the same pins shares the environment.
key=$({ cat "$lock"; recipe "$here/env.sh"; } | sha256sum | cut -c1-12)
out="$cache_root/bench-peers/$name-$key"
mkdir -p "$cache_root/bench-peers"

exec 9>"$cache_root/bench-peers/.lock"
flock 9
if [[ ! -f "$out/.complete" ]]; then
  rm -rf "$out"
  log "cold install into $out"
  step "$name environment" "a few minutes, about 100 MB"
  "$uv" venv -q --python "$root/.venv/bin/python" "$out"
  "$uv" pip install -q --python "$out/bin/python" --require-hashes -r "$lock"
  step_done
  touch "$out/.complete"
else
  log "reusing $out"
fi
if [[ $name == vectorbt ]]; then
  # The project itself, editable, from the checkout that asks (cheap: no dependencies).
  "$uv" pip install -q --python "$out/bin/python" --no-deps -e "$root"
fi
echo "$out"
