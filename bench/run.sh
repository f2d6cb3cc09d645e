#!/usr/bin/env bash
# The memo benchmark: one command, run from a fresh clone.
#
#   bench/run.sh [--postgres [--redis]] [--all] [--peer] [--scale | --scale-only]
#                [--scale-sizes "20 1000 10000 100000"] [--duration SECONDS] [--rounds N]
#                [--connections N] [--threads N] [--login-connections N] [--no-build] [--no-write]
#                [--no-flush] [--pgo]
#
# Builds `memo` and the bench tools (bench/floor) in release mode, installs wrk
# from Debian's packages when it is missing, and starts memo on 127.0.0.1 on a
# fresh SQLite database in a temp dir (--postgres: a fresh database on the
# local PostgreSQL at 127.0.0.1:5432, user postgres, dropped at exit; --redis:
# also sessions and revocations in the local Redis at 127.0.0.1:6379 under a
# key prefix of its own, deleted at exit; --all: SQLite, PostgreSQL, and
# PostgreSQL + Redis one after the other), with MEMO_RATE_LIMITS=off and a
# fixed bench JWT secret. Seeds 10 users with 20 memos each through the API,
# then runs --rounds rounds (default 3) of every row for --duration seconds
# (default 5) with wrk (bench/lua/request.lua): the floor (a minimal axum
# server that only verifies the same HS256 cookie), GET /api/auth/status,
# GET /api/memos (20 memos), POST /api/memos, PATCH /api/memos/{id},
# POST /api/auth/refresh (rotating: driven by bench-refresh, which follows the
# rotated cookie) and POST /api/auth/login; each row's ratio is to the floor of
# its own round, and the table gives the medians with the server's CPU per
# request, the database servers' (PostgreSQL's and Redis's processes) and the
# machine's idle share. Then p99 of GET /api/memos while logins run, and memo's RSS while
# it holds 1,000 keep-alive connections.
#
# Every row is checked before it counts: one request with the row's own Lua
# settings must reach the row's path and get its status and body, and after
# the row memo's access log must show every measured request on that route
# with that status. Anything else stops the run (so RUST_LOG must keep
# memo's INFO access lines).
#
# --peer: also the original's stack (bench/peer: the article's Flask app with
#   Flask-JWT-Extended on gunicorn, 4 workers, from a venv made with pip) on
#   the status and list rows, with memo / Flask ratios.
# --pgo: memo as deployed with profile-guided optimization, built by scripts/build-pgo
#   (trained on every backend with --all or --postgres, on SQLite otherwise), in
#   $CARGO_TARGET_DIR/pgo/use; the floor and the tools stay plain release builds.
# --no-flush: a diagnosis, not the targets' figures (implies --no-write): the
#   SQLite database in /dev/shm (memory) and PostgreSQL's commits with
#   synchronous_commit=off, so the write rows show what they would be if a
#   commit did not wait for the disk's flush; the rest of each write is the same.
# --scale: also GET /api/memos's first page, a deep page reached through the
#   Link rel="next" cursor and a ?q= search with 20, 1,000, 10,000 and 100,000
#   memos in one account (--scale-sizes), seeded through the API by bench-seed;
#   p99 against the 20-memo figure, and a chart. Needs the paging API
#   (api-contract.md, "Paging, order and search"): checked first, and the run
#   fails there when the server does not page. --scale-only: only these rows.
#
# Prints the tables and writes them, with the machine and the command, into
# docs/performance.md (between bench:<backend> and bench-scale:<backend>
# markers) with charts in docs/bench-<backend>.svg and
# docs/bench-scale-<backend>.svg (--no-write: print only). MEMO_BIN / FLOOR_BIN
# / REFRESH_BIN / SEED_BIN / WALK_BIN use other binaries (with --no-build, to
# compare builds). Only ratios within one run mean anything on a shared
# machine. Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
[[ -n ${BENCH_TRACE:-} ]] && set -x

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"

BACKEND=sqlite
POSTGRES=0
REDIS=0
ALL=0
PEER=0
SCALE=0
MAIN=1
SCALE_SIZES="20 1000 10000 100000"
DURATION=5
ROUNDS=3
CONNECTIONS=8
THREADS=2
LOGIN_CONNECTIONS=1
MEM_CONNECTIONS=1000
MEM_SECONDS=6
USERS=10
MEMOS_PER_USER=20
BUILD=1
WRITE=1
PGO=0
NO_FLUSH=0
COMMAND="bench/run.sh $*"
ARGS=("$@")

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --postgres) POSTGRES=1 ;;
    --redis) REDIS=1 ;;
    --all) ALL=1 ;;
    --peer) PEER=1 ;;
    --scale) SCALE=1 ;;
    --scale-only) SCALE=1; MAIN=0 ;;
    --scale-sizes) SCALE_SIZES="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --connections) CONNECTIONS="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --login-connections) LOGIN_CONNECTIONS="$2"; shift ;;
    --no-build) BUILD=0 ;;
    --pgo) PGO=1 ;;
    --no-write) WRITE=0 ;;
    --no-flush) NO_FLUSH=1; WRITE=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
((REDIS && !POSTGRES)) && { echo "bench: --redis goes with --postgres" >&2; exit 2; }
((POSTGRES)) && BACKEND=postgres
((REDIS)) && BACKEND=postgres-redis

source "$ROOT/bench/lib/common.sh"

# ---------------------------------------------------------------- prerequisites
if ((BUILD && PGO)); then
  say "building memo with profile-guided optimization (scripts/build-pgo), and the bench tools"
  pgo_training=()
  ((ALL || POSTGRES)) && pgo_training=(--all)
  bash "$ROOT/scripts/build-pgo" --no-spa "${pgo_training[@]}" >/dev/null
elif ((BUILD)); then
  say "building memo and the bench tools (cargo build --release -p memo -p bench-floor)"
  cargo build --release -p memo -p bench-floor
fi
if ((ALL)); then
  rest=()
  for a in "${ARGS[@]}"; do [[ $a == --all || $a == --postgres || $a == --redis || $a == --no-build ]] || rest+=("$a"); done
  for backend in "" "--postgres" "--postgres --redis"; do
    # shellcheck disable=SC2086 # two words for the last backend
    "$0" "${rest[@]}" --no-build $backend || exit
  done
  exit 0
fi
if [[ -n ${MEMO_BIN:-} ]]; then
  MEMO_BUILD="MEMO_BIN=$MEMO_BIN"
elif ((PGO)); then
  MEMO_BIN="$CARGO_TARGET_DIR/pgo/use/release/memo"
  MEMO_BUILD="profile-guided release build (scripts/build-pgo), the floor and the tools plain release builds"
else
  MEMO_BIN="$CARGO_TARGET_DIR/release/memo"
  MEMO_BUILD="release build (cargo build --release), as the floor and the tools"
fi
FLOOR_BIN="${FLOOR_BIN:-$CARGO_TARGET_DIR/release/bench-floor}"
REFRESH_BIN="${REFRESH_BIN:-$CARGO_TARGET_DIR/release/bench-refresh}"
SEED_BIN="${SEED_BIN:-$CARGO_TARGET_DIR/release/bench-seed}"
WALK_BIN="${WALK_BIN:-$CARGO_TARGET_DIR/release/bench-walk}"
for bin in "$MEMO_BIN" "$FLOOR_BIN" "$REFRESH_BIN" "$SEED_BIN" "$WALK_BIN"; do
  [[ -x $bin ]] || die "$bin is missing; run without --no-build"
done

if ! command -v wrk >/dev/null; then
  [[ $(id -u) == 0 ]] || die "wrk is missing: sudo apt-get install -y wrk"
  say "installing wrk (apt-get install -y wrk)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
for tool in curl awk; do command -v "$tool" >/dev/null || die "$tool is required"; done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 2 * MEM_CONNECTIONS + 100)) || die "ulimit -n is $(ulimit -n); raise the hard limit"

# The bench's own secret, shared by memo, the floor and the peer so one token works on all.
SECRET="bench-only-hs256-secret-0123456789abcdef0123456789abcdef"
PASSWORD="bench-password"
source "$ROOT/bench/lib/load.sh"
source "$ROOT/bench/lib/report.sh"
source "$ROOT/bench/lib/peer.sh"
source "$ROOT/bench/lib/scale.sh"

# ---------------------------------------------------------------- servers
export JWT_SECRET_KEY="$SECRET" MEMO_RATE_LIMITS=off
# An hour, so the tokens of the seed outlive every run.
export JWT_ACCESS_TOKEN_EXPIRES=3600
unset DATABASE_URL REDIS_URL
if ((POSTGRES)); then
  command -v psql >/dev/null || die "--postgres needs psql and a server on 127.0.0.1:5432"
  PG_ADMIN="postgres://postgres@127.0.0.1:5432/postgres"
  PG_DB="memo_bench_$$_$RANDOM"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $PG_DB" >/dev/null || die "cannot create database $PG_DB"
  CLEANUPS+=("psql '$PG_ADMIN' -qc 'DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)'")
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$PG_DB"
  ((NO_FLUSH)) && psql "$PG_ADMIN" -qc "ALTER DATABASE $PG_DB SET synchronous_commit = off" >/dev/null
fi
DATA_DIR="$WORK/data"
if ((NO_FLUSH)); then
  [[ -d /dev/shm ]] || die "--no-flush needs /dev/shm"
  DATA_DIR="$(mktemp -d /dev/shm/memo-bench-data.XXXXXX)"
  CLEANUPS+=("rm -rf '$DATA_DIR'")
  say "--no-flush: commits do not wait for the disk (SQLite in /dev/shm, PostgreSQL synchronous_commit=off); not the targets' figures"
fi
if ((REDIS)); then
  command -v redis-cli >/dev/null || die "--redis needs redis-cli and a server on 127.0.0.1:6379"
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || die "no Redis at 127.0.0.1:6379"
  export REDIS_URL="redis://127.0.0.1:6379" MEMO_REDIS_PREFIX="memo-bench-$$-$RANDOM"
  # Only this run's keys: its own prefix.
  CLEANUPS+=("redis-cli -h 127.0.0.1 -p 6379 --scan --pattern '$MEMO_REDIS_PREFIX:*' | xargs -r -n 500 redis-cli -h 127.0.0.1 -p 6379 del")
fi
say "starting memo ($BACKEND) and the floor"
start memo 'listening on' "$MEMO_BIN" serve --bind 127.0.0.1:0 --data-dir "$DATA_DIR"
start floor 'listening on' "$FLOOR_BIN" --bind 127.0.0.1:0
((PEER && MAIN)) && peer_start "$MEMOS_PER_USER"

# ---------------------------------------------------------------- seed
memo_api() { api "$MEMO_URL" "$@"; }
say "seeding $USERS users with $MEMOS_PER_USER memos each"
for ((u = 1; u <= USERS; u++)); do
  jar="$WORK/user$u.jar"
  : >"$jar"
  creds="{\"user_name\":\"bench$u\",\"password\":\"$PASSWORD\"}"
  expect 201 "$(memo_api POST /api/auth/register "$jar" "$creds")" "register bench$u"
  expect 200 "$(memo_api POST /api/auth/login "$jar" "$creds")" "login bench$u"
  csrf="$(cookie "$jar" csrf_access_token)"
  ids=""
  for ((m = 1; m <= MEMOS_PER_USER; m++)); do
    out="$(memo_api POST /api/memos "$jar" "{\"title\":\"memo $m of bench$u\",\"content\":\"Seeded by bench/run.sh: a short memo body of about eighty characters, like a note.\"}" "$csrf")"
    expect 201 "$out" "create memo $m of bench$u"
    ids+="${ids:+,}$(head -n1 <<<"$out" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')"
  done
  echo "$ids" >"$WORK/user$u.ids"
done
RSS_SEEDED_KB="$(rss_kb "$MEMO_PID")"
READER="$WORK/user1.jar"  # GET /memos, status: 20 memos, never written to
WRITER="$WORK/user2.jar"  # POST and PATCH
READER_COOKIE="access_token_cookie=$(cookie "$READER" access_token_cookie)"
WRITER_COOKIE="access_token_cookie=$(cookie "$WRITER" access_token_cookie)"
WRITER_CSRF="$(cookie "$WRITER" csrf_access_token)"
REFRESH_COOKIE="refresh_token_cookie=$(cookie "$READER" refresh_token_cookie)"
REFRESH_CSRF="$(cookie "$READER" csrf_refresh_token)"

# Does refresh rotate the refresh token? Then a fixed cookie would measure the
# reuse-detection refusal, not refresh: refresh twice with the same cookie.
refresh_once() {
  curl -s -o /dev/null -D - -X POST -H "Cookie: $REFRESH_COOKIE" -H "X-CSRF-TOKEN: $REFRESH_CSRF" \
    -w '%{http_code}\n' "$MEMO_URL/api/auth/refresh"
}
first="$(refresh_once)"
second="$(refresh_once)"
[[ $(tail -n1 <<<"$first") == 200 ]] || die "POST /api/auth/refresh failed: $first"
ROTATES=0
if grep -qi '^set-cookie: refresh_token_cookie=' <<<"$first" || [[ $(tail -n1 <<<"$second") != 200 ]]; then
  ROTATES=1
fi

# Fail before minutes of rows when the scaling rows cannot run.
((SCALE)) && scale_setup

# ---------------------------------------------------------------- rows
RAW="$WORK/raw.tsv"          # one line per run: round name label rps p50 p99 non2xx socket_errors cpu_us_per_request db_cpu_us_per_request idle_pct
RESULTS="$WORK/results.tsv"  # one line per row (report.sh)
: >"$RAW"
C="$CONNECTIONS" T="$THREADS" D="$DURATION"
LOGIN_BODY="{\"user_name\":\"bench3\",\"password\":\"$PASSWORD\"}"
STATUS_BODY='^\{"msg":"Logged in"\}$'

# refresh_row ROUND: POST /api/auth/refresh; bench-refresh when it rotates.
refresh_row() {
  if ((!ROTATES)); then
    load "$1" refresh "POST /api/auth/refresh" memo 200 '"msg"' "$D" \
      BENCH_METHOD=POST BENCH_PATH=/api/auth/refresh BENCH_COOKIE="$REFRESH_COOKIE" BENCH_CSRF="$REFRESH_CSRF"
    return
  fi
  # Each connection logs in once (user 4), then refreshes with the newest cookies.
  local offset; offset="$(log_size memo)"
  cpu_mark before "$MEMO_PID"
  "$REFRESH_BIN" --url "$MEMO_URL" --user bench4 --password "$PASSWORD" --connections "$C" --duration "$D" \
    >"$WORK/refresh.wrk" 2>&1 || die "bench-refresh failed: $(cat "$WORK/refresh.wrk")"
  cpu_mark after "$MEMO_PID"
  local requests; requests="$(sed -n 's/^BENCH_RESULT requests=\([0-9]*\).*/\1/p' "$WORK/refresh.wrk")"
  check_log memo "$offset" "POST /api/auth/refresh (rotating)" '^/api/auth/refresh$' 200 "${requests:-1}" '^/api/auth/login$' 200 "$C"
  record "$1" refresh "POST /api/auth/refresh (rotating)"
}

if ((MAIN)); then
  ((ROTATES)) && say "refresh rotates the refresh token: bench-refresh follows the newest cookie on each connection"
  # Rounds of every row, each opened by the floor: the machine's load drifts,
  # so each row is compared with the floor of its own round.
  for ((r = 1; r <= ROUNDS; r++)); do
    say "round $r of $ROUNDS: wrk, $C connections, $T threads, ${D} s per row"
    load "$r" floor "floor" floor 200 "$STATUS_BODY" "$D" BENCH_PATH=/ BENCH_COOKIE="$READER_COOKIE"
    load "$r" status "GET /api/auth/status" memo 200 "$STATUS_BODY" "$D" \
      BENCH_PATH=/api/auth/status BENCH_COOKIE="$READER_COOKIE"
    load "$r" list "GET /api/memos (20 memos)" memo 200 '^\[\{' "$D" IDS="$MEMOS_PER_USER" \
      BENCH_PATH=/api/memos BENCH_COOKIE="$READER_COOKIE"
    if ((PEER)); then
      load "$r" peer_status "Flask: GET /auth/status" peer 200 '^$' "$D" BENCH_PATH=/auth/status BENCH_COOKIE="$PEER_COOKIE"
      load "$r" peer_list "Flask: GET /memos (20 memos)" peer 200 '^\[\{' "$D" IDS="$MEMOS_PER_USER" \
        BENCH_PATH=/memos BENCH_COOKIE="$PEER_COOKIE"
    fi
    load "$r" create "POST /api/memos" memo 201 '"title":"written by wrk"' "$D" \
      BENCH_METHOD=POST BENCH_PATH=/api/memos BENCH_COOKIE="$WRITER_COOKIE" BENCH_CSRF="$WRITER_CSRF" \
      BENCH_BODY='{"title":"written by wrk","content":"A new memo from the benchmark, about eighty characters of content."}'
    load "$r" patch "PATCH /api/memos/{id}" memo 200 '"title":"edited by wrk"' "$D" \
      BENCH_METHOD=PATCH BENCH_PATH='/api/memos/{id}' BENCH_IDS="$(cat "$WORK/user2.ids")" \
      BENCH_COOKIE="$WRITER_COOKIE" BENCH_CSRF="$WRITER_CSRF" BENCH_BODY='{"title":"edited by wrk"}'
    refresh_row "$r"
    load "$r" login "POST /api/auth/login" memo 200 '"user_name":"bench3"' "$D" \
      BENCH_METHOD=POST BENCH_PATH=/api/auth/login BENCH_BODY="$LOGIN_BODY"
  done

  say "GET /api/memos while $LOGIN_CONNECTIONS connection(s) log in as fast as they can"
  probe memo "the logins beside GET /api/memos" 200 '"user_name":"bench3"' "" \
    BENCH_METHOD=POST BENCH_PATH=/api/auth/login BENCH_BODY="$LOGIN_BODY"
  (
    env BENCH_METHOD=POST BENCH_PATH=/api/auth/login BENCH_COOKIE= BENCH_CSRF= BENCH_IDS= BENCH_BODY="$LOGIN_BODY" \
      wrk -t 1 -c "$LOGIN_CONNECTIONS" -d "$((D * 2 + 2))s" --timeout 10s -s "$LUA" "$MEMO_URL" >"$WORK/logins.wrk" 2>&1
  ) &
  LOGINS_PID=$!
  sleep 1
  load 0 list_under_logins "GET /api/memos under logins" memo 200 '^\[\{' "$((D * 2))" IDS="$MEMOS_PER_USER" \
    LOG_ALSO='^/api/auth/login$ 200 1' BENCH_PATH=/api/memos BENCH_COOKIE="$READER_COOKIE"
  wait "$LOGINS_PID" || die "the login load failed: $(cat "$WORK/logins.wrk")"
  LOGINS_RPS="$(awk '/^BENCH_RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%.1f", v["requests"] / (v["duration_us"] / 1e6) }' "$WORK/logins.wrk")"
  LOGINS_NON2XX="$(sed -n 's/^BENCH_RESULT.* non2xx=\([0-9]*\).*/\1/p' "$WORK/logins.wrk")"
  ((LOGINS_NON2XX == 0)) || die "the logins beside GET /api/memos got $LOGINS_NON2XX non-2xx answers"
  echo "   (logins meanwhile: $LOGINS_RPS req/s)" >&2

  say "memory: $MEM_CONNECTIONS keep-alive connections on GET /api/auth/status for ${MEM_SECONDS} s"
  probe memo "the memory load" 200 "$STATUS_BODY" "" BENCH_PATH=/api/auth/status BENCH_COOKIE="$READER_COOKIE"
  RSS_IDLE_KB="$(rss_kb "$MEMO_PID")"
  MEM_OFFSET="$(log_size memo)"
  (
    env BENCH_METHOD=GET BENCH_PATH=/api/auth/status BENCH_COOKIE="$READER_COOKIE" BENCH_CSRF= BENCH_IDS= BENCH_BODY= \
      wrk -t 2 -c "$MEM_CONNECTIONS" -d "${MEM_SECONDS}s" --timeout 10s -s "$LUA" "$MEMO_URL" >"$WORK/memory.wrk" 2>&1
  ) &
  MEMLOAD_PID=$!
  RSS_PEAK_KB=0
  CONNS_PEAK=0
  while kill -0 "$MEMLOAD_PID" 2>/dev/null; do
    rss="$(rss_kb "$MEMO_PID")"
    ((rss > RSS_PEAK_KB)) && RSS_PEAK_KB="$rss"
    # Established TCP connections held by memo: its socket fds minus the listener.
    conns="$({ find "/proc/$MEMO_PID/fd" -lname 'socket:*' 2>/dev/null || true; } | wc -l)"
    ((conns > CONNS_PEAK)) && CONNS_PEAK="$conns"
    sleep 0.2
  done
  wait "$MEMLOAD_PID" || die "the memory load failed: $(cat "$WORK/memory.wrk")"
  MEM_RESULT="$(grep '^BENCH_RESULT' "$WORK/memory.wrk")" || die "no result from the memory load: $(cat "$WORK/memory.wrk")"
  MEM_REQUESTS="$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$MEM_RESULT")"
  MEM_ERRORS="$(sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p' <<<"$MEM_RESULT")"
  check_log memo "$MEM_OFFSET" "the memory load" '^/api/auth/status$' 200 "$MEM_REQUESTS"
  echo "   RSS after seeding $((RSS_SEEDED_KB / 1024)) MiB, before this load $((RSS_IDLE_KB / 1024)) MiB, peak $((RSS_PEAK_KB / 1024)) MiB with up to $CONNS_PEAK sockets open ($MEM_REQUESTS requests, $MEM_ERRORS socket errors)" >&2
fi

# ---------------------------------------------------------------- report
source "$ROOT/bench/lib/write.sh"
if ((MAIN)); then
  summarize
  report_main
fi
if ((SCALE)); then
  scale_rows
  summarize
  report_scale
fi
