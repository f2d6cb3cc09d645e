# shellcheck shell=bash disable=SC2034 # sourced by bench/run.sh: its variables cross files
# --scale: GET /api/memos as one account grows to 20, 1,000, 10,000 and
# 100,000 memos (--scale-sizes): its first page, a deep page reached by
# following the Link rel="next" cursor, and a ?q= search, each as p99 against
# the same row at the smallest size. Written against the paging contract
# (shared/spec/api-contract.md, "Paging, order and search"); a server that
# does not page fails the check before any seeding.
#
# The account is filled through POST /api/memos by bench-seed (32 requests in
# flight); memo n says "議事録" when n % 100 == 1, so the search has
# floor((N - 1) / 100) + 1 hits at N memos.

SCALE_QUERY="%E8%AD%B0%E4%BA%8B%E9%8C%B2"  # 議事録, percent-encoded
SCALE_WORD="議事録"
SCALE_PAGE=20
SEED_CONNECTIONS=32
SCALE_LOG="$WORK/scale.tsv"  # size, memos/s of its seeding, seconds, RSS KiB after, deep page's position
: >"$SCALE_LOG"

search_hits() { echo $((($1 - 1) / 100 + 1)); }

# seed_to FROM TO: memos FROM..TO into the scale account; prints the BENCH_SEED line.
seed_to() {
  local out
  out="$("$SEED_BIN" --url "$MEMO_URL" --cookie "$SCALE_COOKIE" --csrf "$SCALE_CSRF" \
    --from "$1" --to "$2" --connections "$SEED_CONNECTIONS" 2>&1)" || die "seeding the scale account: ${out##*bench-seed: }"
  tail -n1 <<<"$out"
}

# walk ARGS...: bench-walk on the scale account; dies with its message.
walk() {
  local out
  out="$("$WALK_BIN" --url "$MEMO_URL" --cookie "$SCALE_COOKIE" "$@" 2>&1)" || die "scaling rows: ${out##*bench-walk: }"
  tail -n1 <<<"$out"
}

# scale_setup: the scale account with its first size of memos, and the check
# that the server pages and searches as the contract says.
scale_setup() {
  local jar="$WORK/scale.jar" creds="{\"user_name\":\"bench-scale\",\"password\":\"$PASSWORD\"}"
  : >"$jar"
  expect 201 "$(api "$MEMO_URL" POST /api/auth/register "$jar" "$creds")" "register bench-scale"
  expect 200 "$(api "$MEMO_URL" POST /api/auth/login "$jar" "$creds")" "login bench-scale"
  SCALE_COOKIE="access_token_cookie=$(cookie "$jar" access_token_cookie)"
  SCALE_CSRF="$(cookie "$jar" csrf_access_token)"
  local first="${SCALE_SIZES%% *}"
  ((first >= 20)) || die "--scale-sizes must start at 20 or more"
  seed_to 1 "$first" >/dev/null
  say "checking that GET /api/memos pages (?limit=10 over $first memos) and searches (?q=$SCALE_WORD)"
  walk --start "/api/memos?limit=10" --limit 10 --expect-total "$first" >/dev/null
  walk --start "/api/memos?q=$SCALE_QUERY&limit=10" --limit 10 --expect-total "$(search_hits "$first")" \
    --contains "$SCALE_WORD" >/dev/null
  SCALE_SEEDED="$first"
}

# scale_rows: for each size, fills the account up to it, then measures the rows.
scale_rows() {
  local size line deep position r hits first="${SCALE_SIZES%% *}"
  for size in $SCALE_SIZES; do
    if ((size > SCALE_SEEDED)); then
      say "seeding the scale account from $SCALE_SEEDED to $size memos through POST /api/memos ($SEED_CONNECTIONS in flight)"
      line="$(seed_to "$((SCALE_SEEDED + 1))" "$size")"
      SCALE_SEEDED="$size"
    else
      line="BENCH_SEED created=$size seconds=0"
    fi
    hits="$(search_hits "$size")"
    walk --start "/api/memos?q=$SCALE_QUERY&limit=200" --limit 200 --expect-total "$hits" --contains "$SCALE_WORD" >/dev/null
    if ((size > first)); then
      position=$((size * 9 / 10 / SCALE_PAGE * SCALE_PAGE))  # a whole number of pages, past 90% at most
      deep="$(walk --start "/api/memos?limit=$SCALE_PAGE" --limit "$SCALE_PAGE" --stop-after "$position")"
      deep="$(sed -n 's/.*next=\([^ ]*\).*/\1/p' <<<"$deep")"
    else
      position=0
      deep="/api/memos?limit=$SCALE_PAGE"  # at the smallest size the first page is the deepest
    fi
    awk -v s="$size" -v rss="$(rss_kb "$MEMO_PID")" -v p="$position" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%d\t%.0f\t%.1f\t%d\t%d\n", s, (v["seconds"] > 0 ? v["created"] / v["seconds"] : 0), v["seconds"], rss, p }' \
      <<<"$line" >>"$SCALE_LOG"
    say "$size memos: deep page at memo $position: $deep"
    local more=""
    ((size > SCALE_PAGE)) && more="LINK=1"
    for ((r = 1; r <= ROUNDS; r++)); do
      load "$r" "scale_first_$size" "first page ($size memos)" memo 200 '^\[\{' "$D" IDS="$SCALE_PAGE" $more \
        BENCH_PATH="/api/memos?limit=$SCALE_PAGE" BENCH_COOKIE="$SCALE_COOKIE"
      load "$r" "scale_deep_$size" "deep page ($size memos)" memo 200 '^\[\{' "$D" IDS="$SCALE_PAGE" \
        BENCH_PATH="$deep" BENCH_COOKIE="$SCALE_COOKIE"
      load "$r" "scale_search_$size" "?q= search ($size memos)" memo 200 '^\[\{' "$D" \
        IDS="$((hits < SCALE_PAGE ? hits : SCALE_PAGE))" BENCH_PATH="/api/memos?q=$SCALE_QUERY&limit=$SCALE_PAGE" \
        BENCH_COOKIE="$SCALE_COOKIE"
    done
  done
}
