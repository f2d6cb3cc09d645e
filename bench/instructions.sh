#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: a measure of a
# change that does not move with the machine's load (wrk's req/s on a shared
# 2-core machine drift by 10-20% from one minute to the next).
#
#   bench/instructions.sh [--requests N] [--keep DIR] [--postgres] [--caches] MEMO_BIN [MEMO_BIN_B]
#
# Starts each memo binary under callgrind (instrumentation off) on a fresh SQLite
# database in a temp dir, gives it a user with 20 memos through the API, and
# for each row (GET /api/auth/status, GET /api/memos, POST /api/memos, POST
# /api/auth/refresh) sends 50 warm-up requests, then turns instrumentation on
# for exactly N more (default 2000) on one keep-alive connection, turns it off,
# and divides the instructions of every thread of memo by N. curl sends the
# first three rows; bench-refresh (bench/floor, from REFRESH_BIN or the release
# build) the refreshes, each with the cookies the one before set, as a browser
# does (a rotated refresh token is refused when presented again). bench-floor
# (bench/floor, from FLOOR_BIN or the release build) gets the status row the
# same way. A row
# counts only when memo's access log shows every request of it on the row's
# path with the row's status. Kernel instructions (TCP, wake-ups) are not
# counted: callgrind sees user space only. Under valgrind the writes do not
# meet in one group commit: create's count is that of a batch of one, with
# its commit (and the search index's flush) per write. --keep DIR keeps each row's profile
# as DIR/NAME.ROW.callgrind, for callgrind_annotate --inclusive=yes.
# --postgres: each memo on a scratch PostgreSQL database of its own (on
# 127.0.0.1:5432, dropped at exit) instead of SQLite; one request at a time,
# each page is a statement of one page and each create a group commit of one.
# --caches: callgrind also models the caches (--cache-sim=yes, L1s pinned at
# 32 kB, 8-way, so that machines compare) and a second table gives each row's
# L1 misses per request, instruction fetches and data reads and writes: what
# the instructions cost beyond their number (docs/performance.md). Slower; the
# same instruction counts as without it.
set -euo pipefail
# A failed check inside $(...) stops the run too.
shopt -s inherit_errexit
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/common.sh
source "$ROOT/bench/lib/common.sh"

N=2000 WARMUP=50 KEEP="" POSTGRES=0 CACHES=0 BINS=()
while (($#)); do
  case "$1" in
    --postgres) POSTGRES=1; shift ;;
    --caches) CACHES=1; shift ;;
    --requests) N="$2"; shift 2 ;;
    --keep) KEEP="$(mkdir -p "$2" && realpath "$2")"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) BINS+=("$(realpath "$1")"); shift ;;
  esac
done
((${#BINS[@]} >= 1 && ${#BINS[@]} <= 2)) || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
((POSTGRES)) && { command -v psql >/dev/null || die "--postgres needs psql and a server on 127.0.0.1:5432"; }
for tool in valgrind callgrind_control curl; do command -v "$tool" >/dev/null || die "$tool is required"; done
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/bench-target}"
FLOOR_BIN="${FLOOR_BIN:-$CARGO_TARGET_DIR/release/bench-floor}"
[[ -x $FLOOR_BIN ]] || die "$FLOOR_BIN is missing: cargo build --release -p bench-floor"
REFRESH_BIN="${REFRESH_BIN:-$CARGO_TARGET_DIR/release/bench-refresh}"
[[ -x $REFRESH_BIN ]] || die "$REFRESH_BIN is missing: cargo build --release -p bench-floor"
PASSWORD="bench-password-$RANDOM$RANDOM" USER_NAME=grind
unset DATABASE_URL REDIS_URL
export JWT_SECRET_KEY="bench-instructions-secret-$RANDOM$RANDOM$RANDOM$RANDOM" MEMO_RATE_LIMITS=off
# valgrind runs a program some 50 times slower: give it time to start.
START_TENTHS=1200
BODY='{"title":"bench","content":"a memo written by the instruction count"}'
ROWS=("status GET /api/auth/status 200" "list GET /api/memos 200" "create POST /api/memos 201"
  "refresh POST /api/auth/refresh 200")

# grind NAME BIN ARGS...: starts BIN under callgrind, instrumentation off.
grind() {
  local name="$1"; shift
  local sim=()
  ((CACHES)) && sim=(--cache-sim=yes --I1=32768,8,64 --D1=32768,8,64)
  start "$name" 'listening on' valgrind --tool=callgrind "${sim[@]}" --instr-atstart=no \
    --callgrind-out-file="$WORK/$name.%p.cg" "$@"
}

# send COUNT URL METHOD COOKIE CSRF: COUNT requests on one connection; prints
# each response's status, one per line.
send() {
  local count="$1" url="$2" method="$3" cookie="$4" csrf="$5" i
  local args=(-s -X "$method" -H "Cookie: $cookie" -H "X-CSRF-TOKEN: $csrf" -w '%{http_code}\n')
  [[ $method == POST ]] && args+=(-H 'Content-Type: application/json' --data "$BODY")
  {
    for ((i = 0; i < count; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done
  } >"$WORK/urls"
  curl "${args[@]}" -K "$WORK/urls"
}

# memo_log_count NAME OFFSET PATH STATUS [OTHER]: access-log lines of memo NAME
# after byte OFFSET; dies if any is of another path or status. Lines that read
# OTHER ("PATH STATUS", a login before the row) are left out.
memo_log_count() {
  local lines; lines="$(access_lines "$WORK/$1.err" "$2")"
  [[ -n ${5:-} ]] && lines="$(grep -vx "$5" <<<"$lines" || true)"
  [[ -n $lines ]] || { echo 0; return; }
  local bad; bad="$(grep -vc "^$3 $4\$" <<<"$lines" || true)"
  ((bad == 0)) || die "$1: the access log shows requests of another route: $(sort <<<"$lines" | uniq -c | head)"
  grep -c . <<<"$lines" || true
}

# logged NAME OFFSET PATH STATUS COUNT [OTHER]: waits until memo NAME has logged
# COUNT requests after byte OFFSET, all of PATH with STATUS (besides OTHER's);
# prints the log's size.
logged() {
  local seen=0 tries
  for ((tries = 0; tries < 100; tries++)); do
    seen="$(memo_log_count "$1" "$2" "$3" "$4" "${6:-}")"
    ((seen >= $5)) && break
    sleep 0.1
  done
  ((seen == $5)) || die "$1: the access log shows $seen requests of $3, not $5"
  stat -c %s "$WORK/$1.err"
}

# grind_on PID: zeroes the counts of the program under callgrind at PID and counts from now.
grind_on() {
  callgrind_control -z "$1" >/dev/null 2>&1
  callgrind_control -i on "$1" >/dev/null 2>&1
}

# grind_off PID ROW: stops counting and dumps the counts as ROW's.
grind_off() {
  callgrind_control -i off "$1" >/dev/null 2>&1
  callgrind_control -d "$2" "$1" >/dev/null 2>&1
}

# instructions NAME PID ROW: memo NAME's instructions per request of ROW since
# callgrind was zeroed; keeps the profile with --keep.
instructions() {
  local dump; dump="$(ls -t "$WORK/$1.$2.cg"* | head -n1)"
  local total; total="$(awk '/^totals:/ { print $2; exit }' "$dump")"
  [[ -n $KEEP ]] && cp "$dump" "$KEEP/$1.$3.callgrind"
  # The misses per request, by the names of the dump's `events:` line.
  ((CACHES)) && awk -v n="$N" -v who="$1" -v row="$3" '
    /^events:/ { for (i = 2; i <= NF; i++) at[$i] = i }
    /^totals:/ && !("D1mw" in at) { print "no cache events in " FILENAME > "/dev/stderr"; exit 1 }
    /^totals:/ { printf "%s %s %d %d %d\n", who, row, $at["I1mr"] / n, $at["D1mr"] / n, $at["D1mw"] / n; exit }' \
    "$dump" >>"$WORK/caches"
  echo $((total / N))
}

# count_refresh NAME PID URL: instructions per rotation on server NAME.
# bench-refresh logs in (the user seed_user made), refreshes WARMUP times, says
# "ready" and waits for a line before its N refreshes.
count_refresh() {
  local name="$1" pid="$2" url="$3" line
  local offset; offset="$(stat -c %s "$WORK/$name.err")"
  coproc REFRESHER { "$REFRESH_BIN" --url "$url" --user "$USER_NAME" --password "$PASSWORD" \
    --connections 1 --warmup "$WARMUP" --requests "$N" --ready; }
  local driver="$REFRESHER_PID" to="${REFRESHER[1]}" from="${REFRESHER[0]}"
  # This runs in a $(...) subshell, whose exit does not run the EXIT trap: stop the driver
  # before dying (a closed stdin alone also stops it before it starts).
  read -r -t 600 line <&"$from" || true
  [[ $line == ready ]] || { kill "$driver" 2>/dev/null; die "$name refresh: bench-refresh did not get ready"; }
  offset="$(logged "$name" "$offset" /api/auth/refresh 200 "$WARMUP" "/api/auth/login 200")"
  grind_on "$pid"
  echo go >&"$to"
  # Its connection closes after the last answer, inside the counted window (a few hundred
  # instructions against N refreshes); the curl rows' close is counted the same way.
  read -r -t 600 line <&"$from" || true
  grind_off "$pid" refresh
  wait "$driver" || die "$name refresh: bench-refresh failed"
  [[ $line == *" requests=$N "*" non2xx=0 socket_errors=0" ]] || die "$name refresh: bench-refresh said: $line"
  logged "$name" "$offset" /api/auth/refresh 200 "$N" >/dev/null
  instructions "$name" "$pid" refresh
}

# count NAME ROW COOKIE CSRF: instructions per request of ROW on server NAME.
count() {
  local name="$1" row method path status pid_var url_var
  read -r row method path status <<<"$2"
  pid_var="${name^^}_PID" url_var="${name^^}_URL"
  if [[ $row == refresh ]]; then
    count_refresh "$name" "${!pid_var}" "${!url_var}"
    return
  fi
  local pid="${!pid_var}" url="${!url_var}$path"
  local offset=0
  [[ $name != floor ]] && offset="$(stat -c %s "$WORK/$name.err")"
  send "$WARMUP" "$url" "$method" "$3" "$4" | grep -vqx "$status" && die "$name $row: warm-up got $(send 1 "$url" "$method" "$3" "$4")"
  # The warm-up's lines first, so that the row's are the rest.
  [[ $name != floor ]] && offset="$(logged "$name" "$offset" "$path" "$status" "$WARMUP")"
  # valgrind's pid is memo's: it runs memo in its own process.
  grind_on "$pid"
  local statuses; statuses="$(send "$N" "$url" "$method" "$3" "$4")"
  grind_off "$pid" "$row"
  local ok; ok="$(grep -cx "$status" <<<"$statuses" || true)"
  ((ok == N)) || die "$name $row: $ok of $N requests got $status"
  [[ $name != floor ]] && logged "$name" "$offset" "$path" "$status" "$N" >/dev/null
  instructions "$name" "$pid" "$row"
}

grind floor "$FLOOR_BIN" --bind 127.0.0.1:0
names=()
for i in "${!BINS[@]}"; do
  name="memo$i"
  names+=("$name")
  if ((POSTGRES)); then
    db="memo_ir_$$_${RANDOM}_$i" admin="postgres://postgres@127.0.0.1:5432/postgres"
    psql "$admin" -qc "CREATE DATABASE $db" >/dev/null || die "cannot create database $db"
    CLEANUPS+=("psql '$admin' -qc 'DROP DATABASE IF EXISTS $db WITH (FORCE)'")
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
  fi
  grind "$name" "${BINS[$i]}" serve --bind 127.0.0.1:0 --data-dir "$WORK/$name-data"
  seed_user "$name" "$USER_NAME" "$PASSWORD"
done
FLOOR_COOKIE="${MEMO0_COOKIE}" FLOOR_CSRF="${MEMO0_CSRF}"

say "instructions per request, $N requests per row (user space, every thread)"
floor_ir="$(count floor "${ROWS[0]}" "$FLOOR_COOKIE" "$FLOOR_CSRF")"
printf '%-8s %14s' row floor
for name in "${names[@]}"; do printf ' %14s' "$name"; done
((${#names[@]} == 2)) && printf ' %8s' "B/A"
printf '\n'
for spec in "${ROWS[@]}"; do
  row="${spec%% *}"
  if [[ $row == status ]]; then printf '%-8s %14s' "$row" "$floor_ir"; else printf '%-8s %14s' "$row" -; fi
  results=()
  for name in "${names[@]}"; do
    cookie_var="${name^^}_COOKIE" csrf_var="${name^^}_CSRF"
    ir="$(count "$name" "$spec" "${!cookie_var}" "${!csrf_var}")"
    results+=("$ir")
    printf ' %14s' "$ir"
  done
  ((${#results[@]} == 2)) && awk -v a="${results[0]}" -v b="${results[1]}" 'BEGIN { printf " %8.3f", b / a }'
  printf '\n'
done
if ((CACHES)); then
  say "L1 misses per request in callgrind's cache model: instruction fetches, data reads, data writes"
  printf '%-8s %-8s %8s %8s %8s\n' row server I1 D1-read D1-write
  awk '{ printf "%-8s %-8s %8s %8s %8s\n", $2, $1, $3, $4, $5 }' "$WORK/caches"
fi
