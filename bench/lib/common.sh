# shellcheck shell=bash disable=SC2034 # sourced by bench/run.sh: its variables cross files
# Shared by bench/run.sh and bench/test-route-check.sh: messages, the work
# folder, the servers the bench starts (and stops at exit), and curl calls.
# Expects ROOT (the repository) to be set; sets WORK.

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/memo-bench.XXXXXX")"
PIDS=()
# Commands run at exit, after the servers are stopped (drop a database, delete keys).
CLEANUPS=()
cleanup() {
  local pid c
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for c in "${CLEANUPS[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME PATTERN CMD...: starts a server in the background, its stdout in
# $WORK/NAME.out and stderr in $WORK/NAME.err, and waits (30 s at most) until
# one of them holds PATTERN followed by its URL (http://ADDR); START_TENTHS
# (tenths of a second) waits longer. Sets <NAME>_PID and <NAME>_URL.
#
# Each server runs in a session of its own (setsid), as a service does, not in
# the session of the load that measures it: where the kernel groups processes
# by session (autogroup), a server sharing wrk's group was scheduled against
# PostgreSQL as one with it (p99 of a page beside logins 17-18 ms, 3-4 ms in
# a session of its own; docs/performance.md). In a script without job control
# the background child leads no process group, so setsid execs in place and $!
# is the server's own pid. Out of the script's process group, a server is not
# reached by a kill of that group (SIGKILL from `timeout -k`, a cancelled job):
# only the EXIT trap below stops it.
start() {
  local name="$1" pattern="$2"; shift 2
  setsid "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  printf -v "${name^^}_PID" '%s' "$pid"
  local i url
  for ((i = 0; i < ${START_TENTHS:-300}; i++)); do
    url="$(sed -n "s#.*$pattern \(http://[^ ]*\).*#\1#p" "$WORK/$name.out" "$WORK/$name.err" 2>/dev/null || true)"
    url="${url%%$'\n'*}"
    if [[ -n $url ]]; then
      printf -v "${name^^}_URL" '%s' "$url"
      return
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.err" >&2; die "$name exited at start-up"; }
    sleep 0.1
  done
  die "$name did not start in $((${START_TENTHS:-300} / 10)) s"
}

# api BASE METHOD PATH JAR [BODY] [CSRF]: a call with a cookie jar; prints the
# body, then the status on a line of its own.
api() {
  local base="$1" method="$2" path="$3" jar="$4" body="${5:-}" csrf="${6:-}"
  local args=(-s -X "$method" -b "$jar" -c "$jar" -w '\n%{http_code}')
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
  [[ -n $csrf ]] && args+=(-H "X-CSRF-TOKEN: $csrf")
  curl "${args[@]}" "$base$path"
}
expect() { # expect STATUS OUTPUT WHAT
  [[ $(tail -n1 <<<"$2") == "$1" ]] || die "$3: expected $1, got: $2"
}
cookie() { awk -v n="$2" '$6 == n { print $7 }' "$1"; }

# CPU time (user + system) of processes so far, in clock ticks.
cpu_ticks() {
  local pid total=0
  for pid in "$@"; do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# CPU time of the database servers on this machine so far, in clock ticks:
# PostgreSQL's and Redis's processes, with the children each has reaped (a
# PostgreSQL backend that exited counts in the postmaster's), so that the
# difference over a row holds every process that ran for it. Counts whatever
# else those servers do meanwhile: for a quiet machine.
database_ticks() {
  local pid total=0
  for pid in $(pgrep -x 'postgres|redis-server' || true); do
    total=$((total + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# The machine's CPU time so far, in clock ticks: "busy idle" (iowait counts as idle).
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# cpu_mark before|after PIDS...: the CPU time of PIDS (the server measured),
# of the database servers and of the machine at the start or end of a row, in
# CPU_BEFORE/CPU_AFTER, DB_BEFORE/DB_AFTER and MACHINE_BEFORE/MACHINE_AFTER.
cpu_mark() {
  local when="${1^^}"; shift
  printf -v "CPU_$when" '%s' "$(cpu_ticks "$@")"
  printf -v "DB_$when" '%s' "$(database_ticks)"
  printf -v "MACHINE_$when" '%s' "$(machine_ticks)"
}
TICK_US="$((1000000 / $(getconf CLK_TCK)))"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# The median of the numbers on stdin, one per line (the mean of the middle two for an even count).
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# seed_user NAME USER PASSWORD: on the server started as NAME (its <NAME>_URL),
# registers and logs in USER and gives it 20 memos through the API; sets
# <NAME>_COOKIE (the access cookie, as a Cookie header) and <NAME>_CSRF.
seed_user() {
  local name="$1" jar="$WORK/$1.jar" url_var="${1^^}_URL" csrf i
  local url="${!url_var}" creds="{\"user_name\":\"$2\",\"password\":\"$3\"}"
  expect 201 "$(api "$url" POST /api/auth/register "$jar" "$creds")" "$name: register"
  expect 200 "$(api "$url" POST /api/auth/login "$jar" "$creds")" "$name: login"
  csrf="$(cookie "$jar" csrf_access_token)"
  for ((i = 1; i <= 20; i++)); do
    expect 201 "$(api "$url" POST /api/memos "$jar" "{\"title\":\"memo $i\",\"content\":\"text $i\"}" "$csrf")" "$name: memo $i"
  done
  printf -v "${name^^}_COOKIE" '%s' "access_token_cookie=$(cookie "$jar" access_token_cookie)"
  printf -v "${name^^}_CSRF" '%s' "$csrf"
}

# access_lines FILE OFFSET: "PATH STATUS" for each request memo logged in FILE
# after byte OFFSET (its INFO "finished processing request" lines). Whole
# lines only: memo's log writer may be half-way through the last one.
access_lines() {
  local chunk
  chunk="$(tail -c +"$(($2 + 1))" "$1"; echo x)"
  [[ $chunk == *$'\n'* ]] || return 0
  awk '/finished processing request/ {
    p = ""; s = ""
    if (match($0, / path=[^ }]*/)) p = substr($0, RSTART + 6, RLENGTH - 6)
    if (match($0, / status=[0-9]+/)) s = substr($0, RSTART + 8, RLENGTH - 8)
    print p, s }' <<<"${chunk%$'\n'*}"
}
