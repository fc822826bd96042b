# Shared shell helpers for scripts/*: sourced, not run.
# shellcheck shell=bash
CIAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CIAB_VENV=${CIAB_VENV:-$CIAB_ROOT/.venv}
CIAB_CACHE=${CIAB_CACHE:-/var/cache/ciab}
export CIAB_ROOT CIAB_VENV CIAB_CACHE

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# The local apt cache (apt-cacher-ng, started by scripts/setup) on this machine.
CIAB_APT_CACHE_URL=http://127.0.0.1:3142
apt_cache_answers() { (exec 3<>/dev/tcp/127.0.0.1/3142) 2>/dev/null; }

# Run a step and print how long it took (the figures go into closing notes and bench/).
timed() {
  local name=$1 start rc=0; shift
  start=$(date +%s)
  "$@" || rc=$?
  printf '    [%s: %ss]\n' "$name" "$(( $(date +%s) - start ))" >&2
  return "$rc"
}
