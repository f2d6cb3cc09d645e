#!/usr/bin/env bash
# The benchmark's own check: bench/test-route-check.sh proves that a row whose requests miss
# its route (the old script measured GET / for weeks) fails loudly, and that the real rows
# pass. Then one short round of bench/ceiling.sh on SQLite and PostgreSQL, so that memo's
# statements in it keep running as memo's schema changes (each row fails on a statement that
# touches no row). Needs wrk (Debian's package, installed here when missing and running as root); without
# it the check says so and is skipped, except under CI=true.
#
#   MEMO_BIN=path/to/memo scripts/test-bench.sh   (bench-floor's binaries beside it)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v wrk >/dev/null; then
  if [[ "$(id -u)" == 0 ]]; then
    echo "test-bench: installing Debian's wrk"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends wrk >/dev/null
  elif [[ "${CI:-}" == true ]]; then
    echo "test-bench: wrk is missing (apt-get install wrk), and CI=true requires this check" >&2
    exit 1
  else
    echo "SKIPPING: the benchmark's route check needs wrk (apt-get install wrk)"
    exit 0
  fi
fi
bash "$ROOT/bench/test-route-check.sh"

MEMO_BIN="${MEMO_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}/release/memo}"
BIN_DIR="$(dirname "$MEMO_BIN")"
export FLOOR_BIN="$BIN_DIR/bench-floor" CEILING_BIN="$BIN_DIR/bench-sqlite-ceiling"
ceiling() {
  local out
  out="$(bash "$ROOT/bench/ceiling.sh" --no-build --rounds 1 --duration 1 "$@" 2>&1)" || { echo "$out" >&2; exit 1; }
  grep '^| ' <<<"$out" || { echo "$out" >&2; echo "bench/ceiling.sh printed no table" >&2; exit 1; }
}
echo "== bench/ceiling.sh, one round of 1 s (debug build: the figures mean nothing)"
rows="$(ceiling)"
echo "$rows"
[[ $(grep -c '^| SQLite' <<<"$rows") == 2 ]] || { echo "bench/ceiling.sh: SQLite rows missing" >&2; exit 1; }
if command -v pgbench >/dev/null && psql postgres://postgres@127.0.0.1:5432/postgres -qAtc 'SELECT 1' >/dev/null 2>&1; then
  rows="$(ceiling --postgres)"
  echo "$rows"
  [[ $(grep -c '^| PostgreSQL' <<<"$rows") == 4 ]] || { echo "bench/ceiling.sh: PostgreSQL rows missing" >&2; exit 1; }
elif [[ "${CI:-}" == true ]]; then
  echo "test-bench: bench/ceiling.sh --postgres needs pgbench and PostgreSQL at 127.0.0.1:5432, and CI=true requires it" >&2
  exit 1
else
  echo "SKIPPING: bench/ceiling.sh --postgres (no pgbench or no PostgreSQL at 127.0.0.1:5432)"
fi
