#!/usr/bin/env bash
# A/B of two memo binaries on the hot rows, for a change's before and after:
#
#   bench/ab.sh OLD_BIN NEW_BIN [--rounds N] [--duration SECONDS] [--connections N]
#               [--postgres] [--owners N]
#
# Starts both on fresh SQLite databases in a temp dir (--postgres: each on a
# fresh database of its own on the local PostgreSQL at 127.0.0.1:5432, user
# postgres, dropped at exit; MEMO_RATE_LIMITS=off, a fixed secret), gives each
# a user with 20 memos through the API (with --owners N, after N - 1 other
# users of 20 memos each, as bench/run.sh's table holds 10 owners'), then runs
# GET /api/auth/status, GET /api/memos (20 memos) and POST /api/memos with wrk
# (bench/lua/request.lua, 2 threads, --connections, default 8), and the rotating
# POST /api/auth/refresh with bench-refresh (REFRESH_BIN, default the bench
# target's; each connection logs in once), on A and on B in
# turn, alternating which goes first, for --rounds rounds (default 5) of
# --duration seconds (default 5). Prints, per row, the median req/s of each, B/A,
# and each one's server CPU per request (with --postgres, also the database
# servers' CPU per request: PostgreSQL's processes, and Redis's). A row counts only when every response
# had the row's status (wrk's non-2xx count is 0) and one probe request with
# the same Lua settings reached the row's path with the expected status (for
# refresh: every request of bench-refresh, which follows each rotation, got 200).
# For a quiet machine only: anything else running moves the figures.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/common.sh
source "$ROOT/bench/lib/common.sh"

[[ $# -ge 2 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
A_BIN="$(realpath "$1")" B_BIN="$(realpath "$2")"
shift 2
ROUNDS=5 D=5 C=8 POSTGRES=0 OWNERS=1
while (($#)); do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) D="$2"; shift 2 ;;
    --connections) C="$2"; shift 2 ;;
    --postgres) POSTGRES=1; shift ;;
    --owners) OWNERS="$2"; shift 2; [[ $OWNERS =~ ^[1-9][0-9]*$ ]] || die "--owners takes a count of 1 or more" ;;
    *) die "unknown argument: $1" ;;
  esac
done
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
ulimit -n 65536 2>/dev/null || true
LUA="$ROOT/bench/lua/request.lua"
PASSWORD="bench-password-$RANDOM$RANDOM"
export JWT_SECRET_KEY="bench-ab-secret-$RANDOM$RANDOM$RANDOM$RANDOM" MEMO_RATE_LIMITS=off

# setup NAME BIN: starts BIN and seeds a user with 20 memos (seed_user).
setup() {
  if ((POSTGRES)); then
    local admin="postgres://postgres@127.0.0.1:5432/postgres" db="memo_ab_$1_$$_$RANDOM"
    psql "$admin" -qc "CREATE DATABASE $db" >/dev/null || die "cannot create database $db"
    CLEANUPS+=("psql '$admin' -qc 'DROP DATABASE IF EXISTS $db WITH (FORCE)'")
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
  fi
  start "$1" 'listening on' "$2" serve --bind 127.0.0.1:0 --data-dir "$WORK/$1-data"
  local n
  for ((n = 2; n <= OWNERS; n++)); do seed_user "$1" "ab$n" "$PASSWORD"; done
  seed_user "$1" ab "$PASSWORD"  # last: its cookie is the one measured
}
setup a "$A_BIN"
setup b "$B_BIN"

ROWS=("status GET /api/auth/status 200" "list GET /api/memos 200" "create POST /api/memos 201"
  "refresh POST /api/auth/refresh 200")
REFRESH_BIN="${REFRESH_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/bench-target}/release/bench-refresh}"
[[ -x $REFRESH_BIN ]] || die "no bench-refresh at $REFRESH_BIN (cargo build --release -p bench-floor)"

BODY='{"title":"bench","content":"a memo written by the A/B bench"}'

# measure NAME ROW: one wrk run of ROW on server NAME; prints "req/s cpu_us db_cpu_us".
measure() {
  local name="$1" row method path status url cookie csrf out pid_var
  read -r row method path status <<<"$2"
  url="${name^^}_URL" cookie="${name^^}_COOKIE" csrf="${name^^}_CSRF" pid_var="${name^^}_PID"
  cpu_mark before "${!pid_var}"
  if [[ $row == refresh ]]; then
    # Logs in once per connection (their CPU counts too), then follows each rotation.
    out="$("$REFRESH_BIN" --url "${!url}" --user ab --password "$PASSWORD" --connections "$C" \
      --duration "$D" 2>&1)" || die "$name $row: bench-refresh failed: $out"
  else
    local env=(BENCH_METHOD="$method" BENCH_PATH="$path" BENCH_COOKIE="${!cookie}" BENCH_CSRF="${!csrf}")
    [[ $method == POST ]] && env+=(BENCH_BODY="$BODY")
    out="$(env "${env[@]}" BENCH_PROBE=1 wrk -t1 -c1 -d2s -s "$LUA" "${!url}")"
    grep -q "^BENCH_PROBE status=$status method=$method path=$path\$" <<<"$out" ||
      die "$name $row: the probe did not reach $method $path with $status: $(grep BENCH_PROBE <<<"$out")"
    cpu_mark before "${!pid_var}"
    out="$(env "${env[@]}" wrk -t2 -c"$C" -d"${D}s" -s "$LUA" "${!url}")"
  fi
  cpu_mark after "${!pid_var}"
  local line requests duration non2xx errors
  line="$(grep '^BENCH_RESULT' <<<"$out")" || die "$name $row: no result from wrk: $out"
  requests="$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")"
  duration="$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$line")"
  non2xx="$(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$line")"
  errors="$(sed 's/.*socket_errors=\([0-9]*\).*/\1/' <<<"$line")"
  ((non2xx == 0 && errors == 0 && requests > 0)) || die "$name $row: $non2xx non-2xx, $errors socket errors"
  echo "$((requests * 1000000 / duration)) $(((CPU_AFTER - CPU_BEFORE) * TICK_US / requests))" \
    "$(((DB_AFTER - DB_BEFORE) * TICK_US / requests))"
}

lower_median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# med NAME FIELD: the lower median of FIELD over the rounds of server NAME on the current row.
med() { cut -d' ' -f"$2" "$WORK/$1.$row" | lower_median; }

header=(row "A req/s" "B req/s" "B/A" "A cpu/req" "B cpu/req")
((POSTGRES)) && header+=("A db/req" "B db/req")
printf '%-8s %10s %10s %7s' "${header[@]:0:4}"
printf ' %12s' "${header[@]:4}"
echo
for spec in "${ROWS[@]}"; do
  row="${spec%% *}"
  : >"$WORK/a.$row" && : >"$WORK/b.$row"
  for ((r = 0; r < ROUNDS; r++)); do
    order=(a b)
    ((r % 2)) && order=(b a)
    for name in "${order[@]}"; do measure "$name" "$spec" >>"$WORK/$name.$row"; done
  done
  a_rps="$(med a 1)" b_rps="$(med b 1)"
  printf '%-8s %10s %10s %7s %10s µs %10s µs' "$row" "$a_rps" "$b_rps" \
    "$(awk -v a="$a_rps" -v b="$b_rps" 'BEGIN { printf "%.3f", b / a }')" "$(med a 2)" "$(med b 2)"
  ((POSTGRES)) && printf ' %10s µs %10s µs' "$(med a 3)" "$(med b 3)"
  echo
done
