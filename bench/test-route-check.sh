#!/usr/bin/env bash
# Proves that the benchmark's route check catches the bug of the old script:
# its load() set BENCH_PATH=/ and its Lua assigned that to wrk.path, so the
# status and list rows measured GET / (the SPA's index) while saying
# /api/auth/status and /api/memos.
#
#   bench/test-route-check.sh   (after a release build: bench/run.sh builds one)
#
# Starts memo (release) on a fresh SQLite database on 127.0.0.1 and checks:
#  1. the old script's list row (its request.lua from commit fdfb8ef, run as
#     its load() ran it) fails the new access-log check and the new probe;
#  2. the new script's list row passes both;
#  3. the new request.lua refuses to run without BENCH_PATH.
# Prints "N passed, N failed"; exits non-zero when any failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"
MEMO_BIN="${MEMO_BIN:-$CARGO_TARGET_DIR/release/memo}"
OLD_COMMIT=fdfb8ef
source bench/lib/common.sh
source bench/lib/load.sh
[[ -x $MEMO_BIN ]] || die "$MEMO_BIN is missing: cargo build --release -p memo"
command -v wrk >/dev/null || die "wrk is missing: apt-get install -y wrk"
git cat-file -e "$OLD_COMMIT:bench/lua/request.lua" 2>/dev/null || die "the old script's commit $OLD_COMMIT is not in this clone"
git show "$OLD_COMMIT:bench/lua/request.lua" >"$WORK/old-request.lua"

export JWT_SECRET_KEY="bench-only-hs256-secret-0123456789abcdef0123456789abcdef" MEMO_RATE_LIMITS=off
unset DATABASE_URL REDIS_URL RUST_LOG
start memo 'listening on' "$MEMO_BIN" serve --bind 127.0.0.1:0 --data-dir "$WORK/data"
jar="$WORK/user.jar"
creds='{"user_name":"routecheck","password":"bench-password"}'
expect 201 "$(api "$MEMO_URL" POST /api/auth/register "$jar" "$creds")" register
expect 200 "$(api "$MEMO_URL" POST /api/auth/login "$jar" "$creds")" login
csrf="$(cookie "$jar" csrf_access_token)"
for m in 1 2; do
  expect 201 "$(api "$MEMO_URL" POST /api/memos "$jar" "{\"title\":\"memo $m\",\"content\":\"x\"}" "$csrf")" "memo $m"
done
COOKIE="access_token_cookie=$(cookie "$jar" access_token_cookie)"
C=2 T=1
passed=0 failed=0
verdict() { # verdict NAME OK(0/1)
  if (($2)); then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

# 1. The old list row, exactly as the old load() ran it: URL .../api/memos,
#    BENCH_PATH=/ from its defaults, the old Lua.
offset="$(log_size memo)"
env BENCH_METHOD=GET BENCH_PATH=/ BENCH_COOKIE= BENCH_CSRF= BENCH_BODY= BENCH_IDS= BENCH_COOKIE="$COOKIE" \
  wrk -t 1 -c 2 -d 1s -s "$WORK/old-request.lua" "$MEMO_URL/api/memos" >"$WORK/old.wrk" 2>&1
requests="$(sed -n 's/^BENCH_RESULT requests=\([0-9]*\).*/\1/p' "$WORK/old.wrk")"
if (check_log memo "$offset" "old list row" '^/api/memos$' 200 "$requests") 2>"$WORK/old-log.err"; then
  verdict "the access-log check refuses the old script's list row" 0
else
  ok="$(grep -q 'route check failed' "$WORK/old-log.err" && grep -q '\[/ 200\]' "$WORK/old-log.err" && echo 1 || echo 0)"
  verdict "the access-log check refuses the old script's list row (memo logged $(grep -o '\[/ 200\] x[0-9]*' "$WORK/old-log.err" || echo '?'))" "$ok"
fi
if (probe memo "old list row" 200 '^\[\{' 2 BENCH_PATH=/ BENCH_COOKIE="$COOKIE") 2>"$WORK/old-probe.err"; then
  verdict "the probe refuses the old script's list row" 0
else
  ok="$(grep -q 'route check failed' "$WORK/old-probe.err" && echo 1 || echo 0)"
  verdict "the probe refuses the old script's list row ($(sed -n 's/.*failed for [^:]*: \(status=[0-9]* method=[A-Z]* path=[^:]*\): \([^;]*\).*/\1: \2/p' "$WORK/old-probe.err"))" "$ok"
fi

# 2. The new list row passes both.
RAW="$WORK/raw.tsv"
: >"$RAW"
if (load 1 list "GET /api/memos" memo 200 '^\[\{' 1 IDS=2 BENCH_PATH=/api/memos BENCH_COOKIE="$COOKIE") 2>"$WORK/new.err"; then
  verdict "the new list row passes the probe and the access-log check" 1
else
  cat "$WORK/new.err" >&2
  verdict "the new list row passes the probe and the access-log check" 0
fi

# 3. No BENCH_PATH: the new Lua stops wrk instead of defaulting to "/".
BENCH_PATH='' wrk -t 1 -c 1 -d 1s -s "$LUA" "$MEMO_URL/api/memos" >"$WORK/nopath.wrk" 2>&1 || true
ok="$(! grep -q '^BENCH_RESULT' "$WORK/nopath.wrk" && grep -q 'BENCH_PATH must be set' "$WORK/nopath.wrk" && echo 1 || echo 0)"
verdict "request.lua refuses to run without BENCH_PATH" "$ok"

echo "$passed passed, $failed failed"
((failed == 0))
