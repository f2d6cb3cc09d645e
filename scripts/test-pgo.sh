#!/usr/bin/env bash
# scripts/build-pgo's steps end to end, with cargo's dev profile so that they take minutes, not a
# release build's half hour: memo instrumented, trained on SQLite by bench/run.sh's rows,
# the counts merged, memo compiled again with them. Then the profile must hold counts for
# memo's own request path (the status and list handlers: a training that missed memo's
# routes would leave them at zero), and the binary the script printed must serve the API.
# Needs wrk and llvm-profdata (both installed when missing and running as root); without
# them the check says so and is skipped, except under CI=true.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"
if [[ $(id -u) != 0 ]] && ! command -v wrk >/dev/null; then
  [[ ${CI:-} == true ]] && { echo "test-pgo: wrk is missing, and CI=true requires this check" >&2; exit 1; }
  echo "SKIPPING: the PGO build's check needs wrk (apt-get install wrk)"
  exit 0
fi

log="$(mktemp)"
work="$(mktemp -d)"
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$log" "$work"
}
trap cleanup EXIT
bash scripts/build-pgo --no-spa --profile dev >"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
binary="$(tail -n 1 "$log")"
[[ -x $binary ]] || { echo "test-pgo: build-pgo printed no binary: $binary" >&2; exit 1; }

# The most entries the merged profile counts for any function of a handler's (its future, its
# service): the requests that reached it in the training.
profdata="$(sed -n 's/^== profile: //p' "$log")"
llvm_major="$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')"
for handler in memo..http..auth..status memo..http..memos..list_memos; do
  count="$("llvm-profdata-$llvm_major" show --all-functions --counts "$profdata" |
    awk -v h="$handler" '/^  [^ ].*:$/ { mine = index($0, h) > 0 }
      mine && /Block counts: \[/ { sub(/.*\[/, ""); n = $1 + 0; if (n > max) max = n }
      END { print max + 0 }')"
  ((count > 0)) || { echo "test-pgo: the profile counts no request of $handler" >&2; exit 1; }
  echo "ok   the profile counts $count requests of $handler"
done

JWT_SECRET_KEY="test-pgo-$RANDOM$RANDOM$RANDOM$RANDOM" setsid "$binary" serve --bind 127.0.0.1:0 \
  --data-dir "$work" >"$work/out" 2>&1 &
pid=$!
url=""
for ((i = 0; i < 300; i++)); do
  url="$(sed -n 's#.*listening on \(http://[^ ]*\).*#\1#p' "$work/out" | head -n 1)"
  [[ -n $url ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/out" >&2; echo "test-pgo: memo exited" >&2; exit 1; }
  sleep 0.1
done
[[ -n $url ]] || { echo "test-pgo: memo did not start" >&2; exit 1; }
status="$(curl -s -o /dev/null -w '%{http_code}' "$url/api/health")"
[[ $status == 200 ]] || { echo "test-pgo: GET /api/health got $status" >&2; exit 1; }
echo "ok   the profile-guided build serves: GET /api/health 200"
