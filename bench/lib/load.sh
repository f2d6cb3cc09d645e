# shellcheck shell=bash disable=SC2034 # sourced by bench/run.sh: its variables cross files
# One measured row: a probe that proves the row reaches its route, the wrk
# run, and a count of the server's access log that proves every measured
# request did. Sourced by bench/run.sh and bench/test-route-check.sh.
#
# Targets: memo (access log: its INFO "finished processing request" lines on
# stderr), peer (gunicorn's access log, "PATH STATUS" per line) and floor
# (which answers every path alike and keeps no log: probe only).
# Needs: WORK, C, T, RAW, TICK_US, <TARGET>_URL, MEMO_PID, FLOOR_PID, peer_pids.

LUA="$ROOT/bench/lua/request.lua"

target_url() { local v="${1^^}_URL"; printf '%s' "${!v}"; }
target_pids() {
  case "$1" in
    memo) echo "$MEMO_PID" ;;
    floor) echo "$FLOOR_PID" ;;
    peer) peer_pids ;;
  esac
}
target_log() {
  case "$1" in
    memo) echo "$WORK/memo.err" ;;
    peer) echo "$WORK/peer-access.log" ;;
    *) echo "" ;;
  esac
}
log_size() { local f; f="$(target_log "$1")"; [[ -n $f ]] && stat -c %s "$f" 2>/dev/null || echo 0; }

# log_lines TARGET OFFSET: "PATH STATUS" for each request logged after byte OFFSET.
log_lines() {
  local file; file="$(target_log "$1")"
  [[ -n $file ]] || return 0
  case "$1" in
    memo) access_lines "$file" "$2" ;;
    peer) tail -c +"$(($2 + 1))" "$file" | awk 'NF >= 2 { print $1, $2 }' ;;
  esac
}

# path_ere PATH: the access log's path for a request path: no query, {id} any id.
path_ere() {
  local p="${1%%\?*}"
  p="$(sed 's/[.[\*^$+()|]/\\&/g' <<<"$p")"
  printf '^%s$' "${p//\{id\}/[0-9]+}"
}

# check_log TARGET OFFSET WHAT  PATH_ERE STATUS MIN  [PATH_ERE STATUS MIN ...]:
# every request the target logged after OFFSET matches one of the (path,
# status) pairs, and each pair was logged at least MIN times. Waits for the
# log to catch up (memo writes it from a background thread), then dies with
# the counts per path and status when it does not hold.
check_log() {
  local target="$1" offset="$2" what="$3"; shift 3
  [[ -n $(target_log "$target") ]] || return 0
  local spec="$*" tries verdict
  for ((tries = 0; tries < 50; tries++)); do
    verdict="$(log_lines "$target" "$offset" | awk -v spec="$spec" '
      BEGIN { n = split(spec, s, " "); for (i = 1; i <= n; i += 3) { ere[++k] = s[i]; st[k] = s[i + 1]; min[k] = s[i + 2] } }
      { seen[$1 " " $2]++; ok = 0
        for (j = 1; j <= k; j++) if ($1 ~ ere[j] && $2 == st[j]) { got[j]++; ok = 1; break }
        if (!ok) bad++ }
      END { short = 0; for (j = 1; j <= k; j++) if (got[j] < min[j]) short = 1
        printf "%s", bad ? "BAD" : short ? "SHORT" : "OK"
        if (bad || short) { printf " logged:"; for (x in seen) printf " [%s] x%d,", x, seen[x]
          for (j = 1; j <= k; j++) printf " wanted >= %d of [%s %s], logged %d;", min[j], ere[j], st[j], got[j] + 0 } }')"
    [[ $verdict == OK ]] && return 0
    # Lines of another path or status never become right by waiting; too few may be late.
    [[ $verdict == SHORT* ]] || break
    sleep 0.1
  done
  die "route check failed for $what: ${target}'s access log of the row does not show only the intended route and status:${verdict#* logged:}"
}

# probe TARGET WHAT STATUS BODY_ERE IDS ENV...: one request through wrk with the
# row's own Lua settings; dies unless it went to the row's path and got STATUS
# with a body matching BODY_ERE (and IDS memos, when IDS is not empty).
probe() {
  local target="$1" what="$2" status="$3" body_ere="$4" ids="$5"; shift 5
  local out="$WORK/probe.out" path="" want="" kv
  env BENCH_METHOD=GET BENCH_PATH= BENCH_COOKIE= BENCH_CSRF= BENCH_BODY= BENCH_IDS= "$@" BENCH_PROBE=1 \
    wrk -t 1 -c 1 -d 1s --timeout 5s -s "$LUA" "$(target_url "$target")" >"$out" 2>&1 || true
  local head; head="$(grep '^BENCH_PROBE ' "$out" || true)"
  [[ -n $head ]] || die "route check failed for $what: the probe got no response: $(head -c 600 "$out")"
  local got; got="$(sed -n 's/.* status=\([0-9]*\) .*/\1/p' <<<"$head")"
  path="$(sed -n 's/.* path=\(.*\)$/\1/p' <<<"$head")"
  local body; body="$(sed -n 's/^BENCH_PROBE_BODY //p' "$out")"
  for kv in "$@"; do [[ $kv == BENCH_PATH=* ]] && want="${kv#BENCH_PATH=}"; done
  local problem=""
  [[ $got == "$status" ]] || problem="status $got, not $status"
  grep -Eq -- "$body_ere" <<<"$body" || problem+="${problem:+; }body does not match /$body_ere/"
  if [[ -n $ids ]]; then
    local n; n="$(grep -o '"id":' <<<"$body" | wc -l)"
    ((n == ids)) || problem+="${problem:+; }$n memos in the body, not $ids"
  fi
  [[ $path =~ $(path_ere "${want:-/}") || $path == "$want" ]] || problem+="${problem:+; }sent $path"
  [[ -z $problem ]] || die "route check failed for $what: $(sed -n 's/^BENCH_PROBE //p' <<<"$head"): $problem; body: $(head -c 300 <<<"$body")"
  PROBE_LINK="$(sed -n 's/^BENCH_PROBE_LINK //p' "$out")"
}

# load ROUND NAME LABEL TARGET STATUS BODY_ERE SECS [IDS=N] [LINK=1] [LOG_ALSO="ERE STATUS MIN"] VAR=VALUE...:
# probes the row (IDS: the number of memos its body must hold; LINK=1: it
# must carry a Link rel="next" header), runs wrk on it for SECS (C
# connections, T threads), checks the access log, and appends the result to $RAW.
load() {
  local round="$1" name="$2" label="$3" target="$4" status="$5" body_ere="$6" secs="$7"; shift 7
  local ids="" also="" link="" vars=() kv path="" threads="$T"
  for kv in "$@"; do
    case "$kv" in
      IDS=*) ids="${kv#IDS=}" ;;
      LINK=*) link="${kv#LINK=}" ;;
      LOG_ALSO=*) also="${kv#LOG_ALSO=}" ;;
      *) vars+=("$kv"); [[ $kv == BENCH_PATH=* ]] && path="${kv#BENCH_PATH=}" ;;
    esac
  done
  [[ -n $path ]] || die "row $label has no BENCH_PATH"
  ((threads > C)) && threads="$C"
  probe "$target" "$label" "$status" "$body_ere" "$ids" "${vars[@]}"
  if [[ -n $link ]] && ! grep -Eiq 'rel="?([^"]* )?next' <<<"$PROBE_LINK"; then
    die "route check failed for $label: no Link rel=\"next\" header (got: '$PROBE_LINK'): the server does not page"
  fi
  local offset; offset="$(log_size "$target")"
  local pids; pids="$(target_pids "$target")"
  # shellcheck disable=SC2086 # one pid a word
  cpu_mark before $pids
  env BENCH_METHOD=GET BENCH_COOKIE= BENCH_CSRF= BENCH_BODY= BENCH_IDS= "${vars[@]}" \
    wrk --latency -t "$threads" -c "$C" -d "${secs}s" --timeout 10s -s "$LUA" "$(target_url "$target")" \
    >"$WORK/$name.wrk" 2>&1 || die "wrk failed for $label: $(cat "$WORK/$name.wrk")"
  # shellcheck disable=SC2086
  cpu_mark after $pids
  local requests; requests="$(sed -n 's/^BENCH_RESULT requests=\([0-9]*\).*/\1/p' "$WORK/$name.wrk")"
  # shellcheck disable=SC2086 # LOG_ALSO is three words
  check_log "$target" "$offset" "$label" "$(path_ere "$path")" "$status" "${requests:-1}" $also
  record "$round" "$name" "$label"
}

# record ROUND NAME LABEL: appends the BENCH_RESULT line of $WORK/NAME.wrk to $RAW,
# with the server's and the database servers' CPU per request and the machine's
# idle share over the row (cpu_mark's before and after).
record() {
  local round="$1" name="$2" label="$3" line busy idle
  line="$(grep '^BENCH_RESULT' "$WORK/$name.wrk")" || die "no result for $label: $(cat "$WORK/$name.wrk")"
  read -r busy idle <<<"$(awk -v a="$MACHINE_BEFORE" -v b="$MACHINE_AFTER" \
    'BEGIN { split(a, x, " "); split(b, y, " "); print y[1] - x[1], y[2] - x[2] }')"
  awk -v round="$round" -v name="$name" -v label="$label" -v cpu="$(((CPU_AFTER - CPU_BEFORE) * TICK_US))" \
    -v db="$(((DB_AFTER - DB_BEFORE) * TICK_US))" -v busy="$busy" -v idle="$idle" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      n = v["requests"] > 0 ? v["requests"] : 1
      printf "%s\t%s\t%s\t%.1f\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\n", round, name, label, v["requests"] / (v["duration_us"] / 1e6),
        v["p50_us"], v["p99_us"], v["non2xx"], v["socket_errors"], cpu / n, db / n, (busy + idle > 0 ? 100 * idle / (busy + idle) : 0)
    }' <<<"$line" >>"$RAW"
  tail -n1 "$RAW" | awk -F'\t' '{ printf "   %-38s %9.0f req/s  p50 %6.2f ms  p99 %7.2f ms  cpu %6.1f us/req  db %6.1f us/req  idle %4.1f%%  non-2xx %d\n", $3, $4, $5 / 1000, $6 / 1000, $9, $10, $11, $7 }' >&2
}
