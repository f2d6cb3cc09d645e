#!/usr/bin/env bash
# The benchmark's own check: bench/test-route-check.sh proves that a row whose requests miss
# its route (the old script measured GET / for weeks) fails loudly, and that the real rows
# pass. Needs wrk (Debian's package, installed here when missing and running as root); without
# it the check says so and is skipped, except under CI=true.
#
#   MEMO_BIN=path/to/memo scripts/test-bench.sh
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
exec bash "$ROOT/bench/test-route-check.sh"
