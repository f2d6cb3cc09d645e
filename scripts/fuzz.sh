#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time and prints, per
# target, the executions, the duration and the crashes found.
#
#   scripts/fuzz.sh            # each target 60 s
#   FUZZ_SECONDS=300 scripts/fuzz.sh decode_token
#
# Targets (fuzz/fuzz_targets/, harness in fuzz/src/lib.rs):
#   decode_token  JwtManager::decode_token, unverified_header, get_jti, get_csrf_token
#   headers       verify_request with arbitrary Cookie / Authorization / X-CSRF-TOKEN /
#                 query bytes (access and refresh, every location) and the rate
#                 limiter's X-Forwarded-For parsing
#   bodies        the JSON body of every route with one (register, login, create and
#                 patch memo) through the real router in process: never a 5xx, errors {"msg"}
#
# Needs a nightly toolchain (rustup toolchain list) and cargo-fuzz, installed here
# from crates.io when missing. A crash leaves its input in
# fuzz/artifacts/<target>/; copy it to fuzz/regressions/<target>/ and fix the bug:
# `cargo test -p memo --test fuzz_regressions` (run by CI) replays every file there,
# the seeds in fuzz/seeds/, and a bounded random loop, without nightly or libFuzzer.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/jwt-memo/fuzz-target}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"

if ! rustup toolchain list | grep -q "^$TOOLCHAIN"; then
  echo "fuzz.sh: no $TOOLCHAIN toolchain (rustup toolchain install $TOOLCHAIN);" >&2
  echo "         the harness still runs without it: cargo test -p memo --test fuzz_regressions" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked || exit 2
fi

targets=("$@")
((${#targets[@]})) || targets=(decode_token headers bodies)
summary=()
status=0
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  mkdir -p "$corpus" "artifacts/$target"
  log="$(mktemp)"
  echo "==== $target: ${SECONDS_PER_TARGET}s"
  start=$(date +%s)
  cargo "+$TOOLCHAIN" fuzz run "$target" "$corpus" "seeds/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=8192 -timeout=30 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
  crashes=$(find "artifacts/$target" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
  tail -n 25 "$log"
  if ((rc != 0)); then status=1; fi
  summary+=("$(printf '%-13s executions=%-10s duration=%ss (incl. build) exit=%s artifacts=%s' \
    "$target" "${execs:-?}" "$elapsed" "$rc" "$crashes")")
  rm -f "$log"
done
echo
echo "==== summary"
printf '%s\n' "${summary[@]}"
exit $status
