#!/usr/bin/env bash
# The memo benchmark: one command, run from a fresh clone.
#
#   bench/run.sh [--postgres] [--duration SECONDS] [--rounds N] [--connections N] [--threads N]
#                [--login-connections N] [--no-build] [--no-write]
#
# Environment: MEMO_BIN / FLOOR_BIN / REFRESH_BIN use other binaries (with
# --no-build, to compare builds); RUST_LOG is passed on to memo (unset: its
# default logging).
#
# Builds `memo` and the bench tools (bench/floor: the floor and bench-refresh)
# in release mode, installs wrk from
# Debian's packages when it is missing, starts memo on a fresh SQLite database in
# a temp dir (--postgres: a fresh PostgreSQL database on 127.0.0.1:5432, user
# postgres, created here and dropped at exit) with MEMO_RATE_LIMITS=off and a
# fixed bench JWT secret, seeds users and 20 memos per user through the HTTP
# API, logs in, and drives wrk (bench/lua/request.lua sets the Cookie and
# X-CSRF-TOKEN headers) against each endpoint for a fixed time, in rounds
# (--rounds, default 3, of --duration seconds per row, default 5). Each round
# opens with the floor, a minimal axum server that only verifies the same HS256
# cookie with jsonwebtoken; each row's ratio is to its own round's floor, and
# the table gives medians, with the server's CPU per request. When refresh
# rotates the refresh token, bench-refresh drives that row (wrk cannot follow
# the rotated cookie). Then: p99 of GET /api/memos while another wrk logs in
# as fast as it can, and memo's RSS while it holds 1,000 keep-alive
# connections.
#
# Prints the table and writes it, with the machine and the command, into
# docs/performance.md (between the bench:<backend> markers) and a bar chart into
# docs/bench-<backend>.svg (--no-write: print only). Only ratios within one run
# mean anything on a shared machine. Everything runs on 127.0.0.1 and stops by
# itself.
set -euo pipefail
[[ -n ${BENCH_TRACE:-} ]] && set -x

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"

BACKEND=sqlite
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
COMMAND="bench/run.sh $*"

usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --postgres) BACKEND=postgres ;;
    --duration) DURATION="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --connections) CONNECTIONS="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --login-connections) LOGIN_CONNECTIONS="$2"; shift ;;
    --no-build) BUILD=0 ;;
    --no-write) WRITE=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# The bench's own secret, shared by memo and the floor so one token works on both.
SECRET="bench-only-hs256-secret-0123456789abcdef0123456789abcdef"
PASSWORD="bench-password"

# ---------------------------------------------------------------- prerequisites
if ((BUILD)); then
  say "building memo and the bench tools (cargo build --release -p memo -p bench-floor)"
  cargo build --release -p memo -p bench-floor
fi
# MEMO_BIN=/path/to/memo compares another build (e.g. before a change) with --no-build.
MEMO_BIN="${MEMO_BIN:-$CARGO_TARGET_DIR/release/memo}"
FLOOR_BIN="${FLOOR_BIN:-$CARGO_TARGET_DIR/release/bench-floor}"
REFRESH_BIN="${REFRESH_BIN:-$CARGO_TARGET_DIR/release/bench-refresh}"
[[ -x $MEMO_BIN && -x $FLOOR_BIN && -x $REFRESH_BIN ]] || die "release binaries missing; run without --no-build"

if ! command -v wrk >/dev/null; then
  [[ $(id -u) == 0 ]] || die "wrk is missing: sudo apt-get install -y wrk"
  say "installing wrk (apt-get install -y wrk)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
for tool in curl awk; do command -v "$tool" >/dev/null || die "$tool is required"; done
# 1,000 connections for wrk and as many for memo.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 2 * MEM_CONNECTIONS + 100)) || die "ulimit -n is $(ulimit -n); raise the hard limit"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/memo-bench.XXXXXX")"
PIDS=()
PG_DB=""
PG_ADMIN="postgres://postgres@127.0.0.1:5432/postgres"
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $PG_DB ]]; then
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- servers
# start NAME CMD...: starts a server whose first stdout line ends in its URL.
start() {
  local name="$1"; shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=("$!")
  eval "${name^^}_PID=$!"
  local i
  for ((i = 0; i < 300; i++)); do
    if grep -q 'listening on http://' "$WORK/$name.out" 2>/dev/null; then
      eval "${name^^}_URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/$name.out" | head -1)"
      return
    fi
    kill -0 "$!" 2>/dev/null || { cat "$WORK/$name.err" >&2; die "$name exited at start-up"; }
    sleep 0.1
  done
  die "$name did not start in 30 s"
}

export JWT_SECRET_KEY="$SECRET" MEMO_RATE_LIMITS=off
# An hour, so the tokens of the seed outlive every run.
export JWT_ACCESS_TOKEN_EXPIRES=3600
if [[ $BACKEND == postgres ]]; then
  command -v psql >/dev/null || die "--postgres needs psql and a server on 127.0.0.1:5432"
  PG_DB="memo_bench_$$"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $PG_DB" >/dev/null || die "cannot create database $PG_DB"
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$PG_DB"
else
  unset DATABASE_URL
fi
unset REDIS_URL
say "starting memo ($BACKEND) and the floor"
start memo "$MEMO_BIN" serve --bind 127.0.0.1:0 --data-dir "$WORK/data"
start floor "$FLOOR_BIN" --bind 127.0.0.1:0

# ---------------------------------------------------------------- seed
# api METHOD PATH JAR [BODY] [CSRF]: a call with the user's cookie jar; prints
# the body, then the status on a line of its own.
api() {
  local method="$1" path="$2" jar="$3" body="${4:-}" csrf="${5:-}"
  local args=(-s -X "$method" -b "$jar" -c "$jar" -w '\n%{http_code}')
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
  [[ -n $csrf ]] && args+=(-H "X-CSRF-TOKEN: $csrf")
  curl "${args[@]}" "$MEMO_URL$path"
}
expect() { # expect STATUS OUTPUT WHAT
  [[ $(tail -n1 <<<"$2") == "$1" ]] || die "$3: expected $1, got: $2"
}
cookie() { awk -v n="$2" '$6 == n { print $7 }' "$1"; }

say "seeding $USERS users with $MEMOS_PER_USER memos each"
for ((u = 1; u <= USERS; u++)); do
  jar="$WORK/user$u.jar"
  : >"$jar"
  creds="{\"user_name\":\"bench$u\",\"password\":\"$PASSWORD\"}"
  expect 201 "$(api POST /api/auth/register "$jar" "$creds")" "register bench$u"
  expect 200 "$(api POST /api/auth/login "$jar" "$creds")" "login bench$u"
  csrf="$(cookie "$jar" csrf_access_token)"
  ids=""
  for ((m = 1; m <= MEMOS_PER_USER; m++)); do
    out="$(api POST /api/memos "$jar" "{\"title\":\"memo $m of bench$u\",\"content\":\"Seeded by bench/run.sh: a short memo body of about eighty characters, like a note.\"}" "$csrf")"
    expect 201 "$out" "create memo $m of bench$u"
    ids+="${ids:+,}$(head -n1 <<<"$out" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')"
  done
  echo "$ids" >"$WORK/user$u.ids"
done
RSS_SEEDED_KB="$(awk '/^VmRSS/ { print $2 }' "/proc/$MEMO_PID/status")"
READER="$WORK/user1.jar"  # GET /memos, status, refresh: 20 memos, never written to
WRITER="$WORK/user2.jar"  # POST and PATCH
listed="$(api GET /api/memos "$READER")"
expect 200 "$listed" "GET /api/memos"
[[ $(grep -o '"id":' <<<"$listed" | wc -l) == "$MEMOS_PER_USER" ]] || die "GET /api/memos did not list $MEMOS_PER_USER memos"

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
ROTATES=0
if grep -qi '^set-cookie: refresh_token_cookie=' <<<"$first" || [[ $(tail -n1 <<<"$second") != 200 ]]; then
  ROTATES=1
fi
[[ $(tail -n1 <<<"$first") == 200 ]] || die "POST /api/auth/refresh failed: $first"

# ---------------------------------------------------------------- load
RAW="$WORK/raw.tsv"          # one line per run: round name label rps p50 p99 non2xx socket_errors cpu_us_per_request
RESULTS="$WORK/results.tsv"  # one line per row: name label rps p50 p99 errors ratio ratio_min ratio_max cpu_us_per_request
TICK_US="$((1000000 / $(getconf CLK_TCK)))"
# CPU time (user + system) of a process so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
: >"$RAW"

# load ROUND NAME LABEL URL CONNECTIONS THREADS SECONDS [VAR=VALUE...]: one wrk run.
load() {
  local round="$1" name="$2" label="$3" url="$4" conns="$5" threads="$6" secs="$7"; shift 7
  ((threads > conns)) && threads="$conns"
  local pid="$MEMO_PID"
  [[ $name == floor ]] && pid="$FLOOR_PID"
  CPU_BEFORE="$(cpu_ticks "$pid")"
  env BENCH_METHOD=GET BENCH_PATH=/ BENCH_COOKIE= BENCH_CSRF= BENCH_BODY= BENCH_IDS= "$@" \
    wrk --latency -t "$threads" -c "$conns" -d "${secs}s" --timeout 10s -s bench/lua/request.lua "$url" \
    >"$WORK/$name.wrk" 2>&1 || die "wrk failed for $label: $(cat "$WORK/$name.wrk")"
  CPU_AFTER="$(cpu_ticks "$pid")"
  record "$round" "$name" "$label"
}

# record ROUND NAME LABEL: appends the BENCH_RESULT line of $WORK/NAME.wrk to $RAW,
# with the server's CPU per request from $CPU_BEFORE and $CPU_AFTER.
record() {
  local round="$1" name="$2" label="$3" line
  line="$(grep '^BENCH_RESULT' "$WORK/$name.wrk")" || die "no result for $label: $(cat "$WORK/$name.wrk")"
  awk -v round="$round" -v name="$name" -v label="$label" -v cpu="$(((CPU_AFTER - CPU_BEFORE) * TICK_US))" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%s\t%s\t%s\t%.1f\t%d\t%d\t%d\t%d\t%.1f\n", round, name, label, v["requests"] / (v["duration_us"] / 1e6),
        v["p50_us"], v["p99_us"], v["non2xx"], v["socket_errors"], cpu / (v["requests"] > 0 ? v["requests"] : 1)
    }' <<<"$line" >>"$RAW"
  tail -n1 "$RAW" | awk -F'\t' '{ printf "   %-34s %9.0f req/s  p50 %6.2f ms  p99 %7.2f ms  cpu %6.1f us/req  non-2xx %d\n", $3, $4, $5 / 1000, $6 / 1000, $9, $7 }' >&2
}

C="$CONNECTIONS" T="$THREADS" D="$DURATION"
LOGIN_BODY="{\"user_name\":\"bench3\",\"password\":\"$PASSWORD\"}"
((ROTATES)) && say "refresh rotates the refresh token: bench-refresh follows the newest cookie on each connection"
# Rounds of every row, each round opened by the floor: the machine's load drifts,
# so each row is compared with the floor of its own round, and the table gives
# the median of the rounds.
for ((r = 1; r <= ROUNDS; r++)); do
  say "round $r of $ROUNDS: wrk, $C connections, $T threads, ${D} s per row"
  load "$r" floor "floor" "$FLOOR_URL/" "$C" "$T" "$D" BENCH_COOKIE="$READER_COOKIE"
  load "$r" status "GET /api/auth/status" "$MEMO_URL/api/auth/status" "$C" "$T" "$D" BENCH_COOKIE="$READER_COOKIE"
  load "$r" list "GET /api/memos (20 memos)" "$MEMO_URL/api/memos" "$C" "$T" "$D" BENCH_COOKIE="$READER_COOKIE"
  load "$r" create "POST /api/memos" "$MEMO_URL/api/memos" "$C" "$T" "$D" \
    BENCH_METHOD=POST BENCH_PATH=/api/memos BENCH_COOKIE="$WRITER_COOKIE" BENCH_CSRF="$WRITER_CSRF" \
    BENCH_BODY='{"title":"written by wrk","content":"A new memo from the benchmark, about eighty characters of content."}'
  load "$r" patch "PATCH /api/memos/{id}" "$MEMO_URL/api/memos" "$C" "$T" "$D" \
    BENCH_METHOD=PATCH BENCH_PATH='/api/memos/{id}' BENCH_IDS="$(cat "$WORK/user2.ids")" \
    BENCH_COOKIE="$WRITER_COOKIE" BENCH_CSRF="$WRITER_CSRF" BENCH_BODY='{"title":"edited by wrk"}'
  if ((ROTATES)); then
    # Each connection logs in once (user 4), then refreshes with the newest cookies.
    CPU_BEFORE="$(cpu_ticks "$MEMO_PID")"
    "$REFRESH_BIN" --url "$MEMO_URL" --user bench4 --password "$PASSWORD" --connections "$C" --duration "$D" \
      >"$WORK/refresh.wrk" 2>&1 || die "bench-refresh failed: $(cat "$WORK/refresh.wrk")"
    CPU_AFTER="$(cpu_ticks "$MEMO_PID")"
    record "$r" refresh "POST /api/auth/refresh (rotating)"
  else
    load "$r" refresh "POST /api/auth/refresh" "$MEMO_URL/api/auth/refresh" "$C" "$T" "$D" \
      BENCH_METHOD=POST BENCH_PATH=/api/auth/refresh BENCH_COOKIE="$REFRESH_COOKIE" BENCH_CSRF="$REFRESH_CSRF"
  fi
  load "$r" login "POST /api/auth/login" "$MEMO_URL/api/auth/login" "$C" "$T" "$D" \
    BENCH_METHOD=POST BENCH_PATH=/api/auth/login BENCH_BODY="$LOGIN_BODY"
done

say "GET /api/memos while $LOGIN_CONNECTIONS connection(s) log in as fast as they can"
(
  env BENCH_METHOD=POST BENCH_PATH=/api/auth/login BENCH_COOKIE= BENCH_CSRF= BENCH_IDS= BENCH_BODY="$LOGIN_BODY" \
    wrk -t 1 -c "$LOGIN_CONNECTIONS" -d "$((D * 2 + 2))s" --timeout 10s -s bench/lua/request.lua "$MEMO_URL/api/auth/login" \
    >"$WORK/logins.wrk" 2>&1
) &
LOGINS_PID=$!
sleep 1
load 0 list_under_logins "GET /api/memos under logins" "$MEMO_URL/api/memos" "$C" "$T" "$((D * 2))" BENCH_COOKIE="$READER_COOKIE"
wait "$LOGINS_PID" || die "the login load failed: $(cat "$WORK/logins.wrk")"
LOGINS_RPS="$(awk '/^BENCH_RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  printf "%.1f", v["requests"] / (v["duration_us"] / 1e6) }' "$WORK/logins.wrk")"
LOGINS_NON2XX="$(sed -n 's/^BENCH_RESULT.* non2xx=\([0-9]*\).*/\1/p' "$WORK/logins.wrk")"
echo "   (logins meanwhile: $LOGINS_RPS req/s, non-2xx $LOGINS_NON2XX)" >&2

say "memory: $MEM_CONNECTIONS keep-alive connections on GET /api/auth/status for ${MEM_SECONDS} s"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$MEMO_PID/status"; }
RSS_IDLE_KB="$(rss_kb)"
(
  env BENCH_METHOD=GET BENCH_PATH=/api/auth/status BENCH_COOKIE="$READER_COOKIE" BENCH_CSRF= BENCH_IDS= BENCH_BODY= \
    wrk -t 2 -c "$MEM_CONNECTIONS" -d "${MEM_SECONDS}s" --timeout 10s -s bench/lua/request.lua "$MEMO_URL/api/auth/status" \
    >"$WORK/memory.wrk" 2>&1
) &
MEMLOAD_PID=$!
RSS_PEAK_KB=0
CONNS_PEAK=0
while kill -0 "$MEMLOAD_PID" 2>/dev/null; do
  rss="$(rss_kb)"
  ((rss > RSS_PEAK_KB)) && RSS_PEAK_KB="$rss"
  # Established TCP connections held by memo: its socket fds minus the listener.
  # (find fails when a socket closes while it walks the folder.)
  conns="$({ find "/proc/$MEMO_PID/fd" -lname 'socket:*' 2>/dev/null || true; } | wc -l)"
  ((conns > CONNS_PEAK)) && CONNS_PEAK="$conns"
  sleep 0.2
done
wait "$MEMLOAD_PID" || die "the memory load failed: $(cat "$WORK/memory.wrk")"
MEM_RESULT="$(grep '^BENCH_RESULT' "$WORK/memory.wrk")" || die "no result from the memory load: $(cat "$WORK/memory.wrk")"
MEM_REQUESTS="$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$MEM_RESULT")"
MEM_ERRORS="$(sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p' <<<"$MEM_RESULT")"
echo "   RSS after seeding $((RSS_SEEDED_KB / 1024)) MiB, before this load $((RSS_IDLE_KB / 1024)) MiB, peak $((RSS_PEAK_KB / 1024)) MiB with up to $CONNS_PEAK sockets open ($MEM_REQUESTS requests, $MEM_ERRORS socket errors)" >&2

# ---------------------------------------------------------------- report
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# Each run's ratio to the floor of its round; the under-logins row (round 0)
# is compared with the median floor.
FLOOR_RPS="$(awk -F'\t' '$2 == "floor" { print $4 }' "$RAW" | median)"
awk -F'\t' -v OFS='\t' -v fm="$FLOOR_RPS" '
  $2 == "floor" { floor[$1] = $4 }
  { line[NR] = $0; round[NR] = $1; rps[NR] = $4 }
  END { for (i = 1; i <= NR; i++) { f = (round[i] in floor) ? floor[round[i]] : fm; print line[i], rps[i] / f } }' "$RAW" >"$WORK/raw-ratio.tsv"
: >"$RESULTS"
for name in $(awk -F'\t' '!seen[$2]++ { print $2 }' "$RAW"); do
  rows() { awk -F'\t' -v n="$name" -v c="$1" '$2 == n { print $c }' "$WORK/raw-ratio.tsv"; }
  label="$(rows 3 | head -1)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$label" "$(rows 4 | median)" "$(rows 5 | median)" \
    "$(rows 6 | median)" "$(awk -F'\t' -v n="$name" '$2 == n { e += $7 + $8 } END { print e + 0 }' "$RAW")" "$(rows 10 | median)" \
    "$(rows 10 | sort -g | head -1)" "$(rows 10 | sort -g | tail -1)" "$(rows 9 | median)" >>"$RESULTS"
done
TABLE="$WORK/table.md"
{
  echo "| endpoint | req/s | p50 (ms) | p99 (ms) | ratio to floor | ratio range | server CPU per request | non-2xx + errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' '{
      range = ($1 == "list_under_logins") ? "(one run)" : sprintf("%.2f-%.2f", $8, $9)
      printf "| %s | %.0f | %.2f | %.2f | %.3fx | %s | %.0f µs | %d |\n", $2, $3, $4 / 1000, $5 / 1000, $7, range, $10, $6
    }' "$RESULTS"
} >"$TABLE"

value() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n { print $c }' "$RESULTS"; }
check() { # check LABEL OK(0/1) DETAIL
  if (($2)); then echo "| $1 | met | $3 |"; else echo "| $1 | **not met** | $3 |"; fi
}
ratio() { awk -v r="$(value "$1" 7)" 'BEGIN { printf "%.3f", r }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
TARGETS="$WORK/targets.md"
{
  echo "| target | result | measured |"
  echo "|---|---|---|"
  r="$(ratio status)"; check "GET /api/auth/status >= 0.85x floor" "$(ge "$r" 0.85 && echo 1 || echo 0)" "${r}x"
  r="$(ratio list)"; check "GET /api/memos ($BACKEND) >= 0.5x floor" "$(ge "$r" 0.5 && echo 1 || echo 0)" "${r}x"
  r="$(ratio create)"; check "POST /api/memos ($BACKEND) >= 0.25x floor" "$(ge "$r" 0.25 && echo 1 || echo 0)" "${r}x"
  p99="$(value list_under_logins 5)"
  check "p99 GET /api/memos < 10 ms while $LOGIN_CONNECTIONS connection(s) log in" \
    "$(ge 9999 "$p99" && echo 1 || echo 0)" "$(awk -v p="$p99" 'BEGIN { printf "%.2f ms", p / 1000 }') (logins: $LOGINS_RPS/s)"
  check "RSS < 50 MB at $MEM_CONNECTIONS connections" "$(ge 51199 "$RSS_PEAK_KB" && echo 1 || echo 0)" \
    "$(awk -v p="$RSS_PEAK_KB" -v i="$RSS_IDLE_KB" -v s="$RSS_SEEDED_KB" 'BEGIN { printf "%.1f MB peak (%.1f MB just before, %.1f MB after seeding)", p / 1024, i / 1024, s / 1024 }'); $CONNS_PEAK sockets open"
} >"$TARGETS"

echo
cat "$TABLE"
echo
cat "$TARGETS"
echo
echo "floor: median $FLOOR_RPS req/s over $ROUNDS rounds; each ratio is to the floor of its own round (median of the rounds)"
((ROTATES)) && echo "POST /api/auth/refresh rotates the refresh token: measured with bench-refresh (one cookie jar per connection, newest cookie each time)"

# Bad rows make the numbers meaningless: say so loudly.
BAD="$(awk -F'\t' '$6 > 0 { print $2 }' "$RESULTS")"
[[ -n $BAD ]] && echo "WARNING: non-2xx responses or socket errors in: $BAD (see the non-2xx column)" >&2

((WRITE)) || exit 0

# ---------------------------------------------------------------- docs
SVG="docs/bench-$BACKEND.svg"
awk -F'\t' -v floor="$FLOOR_RPS" -v title="memo on $BACKEND vs the floor: median req/s of $ROUNDS rounds ($(date -u +%Y-%m-%d))" '
  { label[NR] = $2; rps[NR] = $3; ratio[NR] = $7; if ($3 > max) max = $3; n = NR }
  END {
    left = 230; width = 440; bar = 22; gap = 8; top = 40
    h = top + n * (bar + gap) + 30
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", left + width + 170, h
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", title
    fx = left + width * floor / max
    for (i = 1; i <= n; i++) {
      y = top + (i - 1) * (bar + gap)
      w = width * rps[i] / max; if (w < 1) w = 1
      color = (label[i] ~ /^floor/) ? "#888888" : "#3b6fb6"
      printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 8, y + bar * 0.7, label[i]
      printf "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", left, y, w, bar, color
      printf "<text x=\"%.1f\" y=\"%d\">%.0f/s (%.2fx)</text>\n", left + w + 6, y + bar * 0.7, rps[i], ratio[i]
    }
    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>\n", fx, top - 6, fx, h - 24
    printf "<text x=\"%.1f\" y=\"%d\" fill=\"#c0392b\" text-anchor=\"middle\">floor (median) %.0f/s</text>\n", fx, h - 10, floor
    printf "</svg>\n"
  }' "$RESULTS" >"$SVG"

if [[ -n ${RUST_LOG:-} ]]; then LOGGING="RUST_LOG=$RUST_LOG"; else LOGGING="default logging (one INFO line per request, to a file)"; fi
MACHINE="$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); shared with other work, so only ratios within this run mean anything"
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- crates bench 2>/dev/null || echo ' + uncommitted changes')"
BLOCK="$WORK/block.md"
{
  echo "<!-- bench:$BACKEND:begin (written by bench/run.sh; do not edit by hand) -->"
  echo "### Latest run: $BACKEND"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $COMMIT"
  echo "- machine: $MACHINE"
  echo "- command: \`$COMMAND\`"
  echo "- load: wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }'), $C connections on $T threads, ${D} s per row and round, $ROUNDS rounds; memo with MEMO_RATE_LIMITS=off, $LOGGING, $USERS users with $MEMOS_PER_USER memos each"
  if ((ROTATES)); then
    echo "- refresh: the refresh token rotates (checked each run), so wrk cannot follow it; \`bench-refresh\` (bench/floor/src/bin/refresh.rs) drives that row instead: $C connections, each logged in once with its own cookie jar, each request sent with the newest refresh cookie and its CSRF value, so every request is a real rotation"
  else
    echo "- refresh: the refresh token does not rotate (checked each run: the same cookie refreshes twice), so one cookie serves every request"
  fi
  echo
  cat "$TABLE"
  echo
  echo "Each row: the median of $ROUNDS rounds; a round runs the floor and then every row for ${D} s each, and each ratio is to the floor of its own round, so a drift of the machine's load between rounds cancels out (\"ratio range\": the lowest and highest round). Floor: median $FLOOR_RPS req/s. The under-logins row is one $((D * 2)) s run while $LOGIN_CONNECTIONS connection(s) logged in as fast as they could ($LOGINS_RPS logins/s), compared with the median floor."
  echo
  cat "$TARGETS"
  echo
  echo "![requests per second by endpoint, $BACKEND](bench-$BACKEND.svg)"
  echo "<!-- bench:$BACKEND:end -->"
} >"$BLOCK"
DOC=docs/performance.md
[[ -f $DOC ]] || printf '# Performance\n' >"$DOC"
if grep -q "<!-- bench:$BACKEND:begin" "$DOC"; then
  awk -v begin="<!-- bench:$BACKEND:begin" -v end="<!-- bench:$BACKEND:end -->" -v block="$BLOCK" '
    index($0, begin) == 1 { while ((getline line < block) > 0) print line; skip = 1; next }
    skip && index($0, end) == 1 { skip = 0; next }
    !skip { print }' "$DOC" >"$WORK/doc.md"
  cat "$WORK/doc.md" >"$DOC"
else
  { echo; cat "$BLOCK"; } >>"$DOC"
fi
say "wrote $DOC and $SVG"
