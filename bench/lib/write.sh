# shellcheck shell=bash disable=SC2034 # sourced by bench/run.sh: its variables cross files
# Prints the results and writes them into docs/performance.md and the charts.

if [[ -n ${RUST_LOG:-} ]]; then LOGGING="RUST_LOG=$RUST_LOG"; else LOGGING="default logging (one INFO line per request, to a file)"; fi
MACHINE="$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); shared with other work, so only ratios within this run mean anything"
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- crates bench 2>/dev/null || echo ' + uncommitted changes')"
case "$BACKEND" in
  sqlite) BACKEND_NAME="SQLite" ;;
  postgres) BACKEND_NAME="PostgreSQL" ;;
  postgres-redis) BACKEND_NAME="PostgreSQL + Redis" ;;
esac
ROUTE_CHECK="Route check: before each row one request with the row's own Lua settings reached its path and got its status and body, and after it the server's access log (memo's; gunicorn's for Flask) showed every measured request on that path with that status."

report_main() {
  local table="$WORK/table.md" targets="$WORK/targets.md" peer="$WORK/peer.md"
  main_table >"$table"
  targets_table >"$targets"
  ((PEER)) && peer_table >"$peer"
  echo
  cat "$table"
  echo
  ((PEER)) && { cat "$peer"; echo; }
  cat "$targets"
  echo
  echo "floor: median $FLOOR_RPS req/s over $ROUNDS rounds; each ratio is to the floor of its own round (median of the rounds)"
  local bad; bad="$(awk -F'\t' '$6 > 0 && $1 !~ /^scale_/ { print $2 }' "$RESULTS")"
  [[ -n $bad ]] && echo "WARNING: non-2xx responses or socket errors in: $bad (see the non-2xx column)" >&2
  ((WRITE)) || return 0

  local svg="docs/bench-$BACKEND.svg" block="$WORK/block.md"
  bars_svg "memo on $BACKEND_NAME vs the floor: median req/s of $ROUNDS rounds ($(date -u +%Y-%m-%d))" >"$svg"
  {
    echo "<!-- bench:$BACKEND:begin (written by bench/run.sh; do not edit by hand) -->"
    echo "### Latest run: $BACKEND_NAME"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $COMMIT"
    echo "- machine: $MACHINE"
    echo "- command: \`$COMMAND\`; memo: $MEMO_BUILD"
    echo "- load: wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }'), $C connections on $T threads, ${D} s per row and round, $ROUNDS rounds; memo with MEMO_RATE_LIMITS=off, $LOGGING, $USERS users with $MEMOS_PER_USER memos each"
    if ((ROTATES)); then
      echo "- refresh: the refresh token rotates (checked each run), so \`bench-refresh\` (bench/floor/src/bin/refresh.rs) drives that row: $C connections, each logged in once with cookies of its own, each request sent with the cookies the last answer set and the newest CSRF value (hyper's HTTP/1.1 client)"
    else
      echo "- refresh: the refresh token does not rotate (checked each run), so one cookie serves every request"
    fi
    ((PEER)) && echo "- peer: the original's stack (bench/peer: the article's Flask app, Flask 2.0.2, Flask-JWT-Extended 4.3.1, Flask-SQLAlchemy on SQLite, gunicorn 20.1.0 with $PEER_WORKERS sync workers and its access log), same rows, same rounds"
    echo "- $ROUTE_CHECK"
    echo
    cat "$table"
    echo
    echo "Each row: the median of $ROUNDS rounds; a round runs the floor and then every row for ${D} s each, and each ratio is to the floor of its own round (\"ratio range\": the lowest and highest round). Floor: median $FLOOR_RPS req/s. The under-logins row is one $((D * 2)) s run while $LOGIN_CONNECTIONS connection(s) logged in as fast as they could ($LOGINS_RPS logins/s), compared with the median floor. Server CPU counts memo's process only (for Flask: gunicorn's master and workers); database CPU is PostgreSQL's and Redis's processes on the same $(nproc) cores (on SQLite, and for the floor and Flask, there is none apart: \`-\`), both per request; machine idle is the share of all cores' time no process used during the row (low: the row is bound by CPU; high: by waiting)."
    echo
    if ((PEER)); then cat "$peer"; echo; fi
    cat "$targets"
    echo
    echo "![requests per second by endpoint, $BACKEND_NAME](bench-$BACKEND.svg)"
    echo "<!-- bench:$BACKEND:end -->"
  } >"$block"
  replace_block docs/performance.md "bench:$BACKEND" "$block"
  say "wrote docs/performance.md (bench:$BACKEND) and $svg"
}

report_scale() {
  local table="$WORK/scale.md" verdict="$WORK/scale-verdict.md"
  scale_table >"$table"
  { echo "| target | result | measured |"; echo "|---|---|---|"; scale_verdict; } >"$verdict"
  echo
  cat "$table"
  echo
  cat "$verdict"
  ((WRITE)) || return 0
  local svg="docs/bench-scale-$BACKEND.svg" block="$WORK/scale-block.md"
  scale_svg "GET /api/memos on $BACKEND_NAME: p99 (median of $ROUNDS rounds) by memos in the account ($(date -u +%Y-%m-%d))" >"$svg"
  {
    echo "<!-- bench-scale:$BACKEND:begin (written by bench/run.sh; do not edit by hand) -->"
    echo "### Latest scaling run: $BACKEND_NAME"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $COMMIT"
    echo "- machine: $MACHINE"
    echo "- command: \`$COMMAND\`"
    echo "- load: wrk, $C connections on $T threads, ${D} s per row, $ROUNDS rounds at each size; one account filled through \`POST /api/memos\` by \`bench-seed\` ($SEED_CONNECTIONS requests in flight; \"seeded at\": its rate); pages of $SCALE_PAGE (\`?limit=$SCALE_PAGE\`); the deep page is the \`next\` link past 90% of the account, reached by \`bench-walk\` following every \`Link: rel=\"next\"\` from the first page (checking order and no repeats); the search is \`?q=$SCALE_WORD&limit=$SCALE_PAGE\` (a word in every hundredth memo, so 1 hit at 20 memos and 1,000 at 100,000; each size's hits were walked and counted first)"
    echo "- $ROUTE_CHECK"
    echo
    cat "$table"
    echo
    cat "$verdict"
    echo
    echo "![p99 of GET /api/memos by memos in the account, $BACKEND_NAME](bench-scale-$BACKEND.svg)"
    echo "<!-- bench-scale:$BACKEND:end -->"
  } >"$block"
  replace_block docs/performance.md "bench-scale:$BACKEND" "$block"
  say "wrote docs/performance.md (bench-scale:$BACKEND) and $svg"
}
