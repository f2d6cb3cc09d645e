#!/usr/bin/env bash
# The database alone: how fast memo's own statements run with no HTTP, token
# or JSON work around them, at the benchmark's concurrency, beside the floor.
#
#   bench/ceiling.sh [--postgres] [--rounds N] [--duration SECONDS]
#                    [--connections N] [--no-build]
#
# bench/run.sh's write rows and PostgreSQL's list are short of issue 13's
# targets; this shows whether memo's code is what holds them. It starts memo
# once to make the schema and seed two users with 20 memos each through the API
# (as bench/run.sh does: one is read, the other written), stops it, then runs
# --rounds rounds (default 3) of:
#   - the floor (wrk, --connections connections, as in bench/run.sh);
#   - SQLite: bench-sqlite-ceiling, memo's insert and update statements on a
#     connection with memo's settings (synchronous=FULL, WAL), in batches of
#     exactly --connections writes per commit: memo's group commit at its best
#     case, since --connections requests in flight never make a fuller batch;
#   - --postgres: pgbench (-M prepared) running memo's update on
#     --connections clients, and the three statements memo batches as memo
#     runs them at best (batches of what has queued): the insert and
#     jwt-extended's rotation (the session store's swap of the current
#     refresh token) on one client doing exactly --connections of them a
#     statement, as one statement is in flight in memo; the first page of
#     GET /api/memos (its default order and limit) on two clients of
#     --connections / 2 pages a statement, as memo reads pages with two
#     statements in flight. A write that touches fewer rows than it should fails
#     its transaction (\gset), the inserts are counted in the table
#     afterwards, and the pages' statement is run once before each round and
#     must return the reader's 20 memos for each page.
#     The batched statements build their arrays in SQL (pgbench binds no
#     arrays) and count their rows on the server, where memo binds the arrays
#     and reads the rows back: close to memo's statements, not the same text.
# Each row's ratio is to the floor of its own round (medians printed). A
# ceiling below a target means no code around the statement can reach it on
# this machine: the statement alone, at that concurrency, is slower.
# Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
[[ -n ${BENCH_TRACE:-} ]] && set -x

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"

POSTGRES=0
ROUNDS=3
DURATION=5
CONNECTIONS=8
THREADS=2
BUILD=1
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --postgres) POSTGRES=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --connections) CONNECTIONS="$2"; shift ;;
    --no-build) BUILD=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "ceiling: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

source "$ROOT/bench/lib/common.sh"
if ((BUILD)); then
  say "building memo and the bench tools (cargo build --release -p memo -p bench-floor)"
  cargo build --release -p memo -p bench-floor
fi
MEMO_BIN="${MEMO_BIN:-$CARGO_TARGET_DIR/release/memo}"
FLOOR_BIN="${FLOOR_BIN:-$CARGO_TARGET_DIR/release/bench-floor}"
CEILING_BIN="${CEILING_BIN:-$CARGO_TARGET_DIR/release/bench-sqlite-ceiling}"
for bin in "$MEMO_BIN" "$FLOOR_BIN" "$CEILING_BIN"; do
  [[ -x $bin ]] || die "$bin is missing; run without --no-build"
done
for tool in wrk curl awk; do command -v "$tool" >/dev/null || die "$tool is required (bench/run.sh installs wrk)"; done
((POSTGRES)) && for tool in psql pgbench; do command -v "$tool" >/dev/null || die "--postgres needs $tool"; done

export JWT_SECRET_KEY="bench-only-hs256-secret-0123456789abcdef0123456789abcdef" MEMO_RATE_LIMITS=off
export JWT_ACCESS_TOKEN_EXPIRES=3600
unset DATABASE_URL REDIS_URL
if ((POSTGRES)); then
  PG_ADMIN="postgres://postgres@127.0.0.1:5432/postgres"
  PG_DB="memo_ceiling_$$_$RANDOM"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $PG_DB" >/dev/null || die "cannot create database $PG_DB"
  CLEANUPS+=("psql '$PG_ADMIN' -qc 'DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)'")
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$PG_DB"
fi
DATA_DIR="$WORK/data"
say "making memo's schema and seeding two users with 20 memos each"
start memo 'listening on' "$MEMO_BIN" serve --bind 127.0.0.1:0 --data-dir "$DATA_DIR"
start floor 'listening on' "$FLOOR_BIN" --bind 127.0.0.1:0
# The reader's memos are only read (the page); the writer's are updated and joined by inserts.
seed_user memo ceilingreader bench-password
seed_user memo ceiling bench-password
page="$(api "$MEMO_URL" GET /api/memos "$WORK/memo.jar")"
IDS="$(grep -o '"id":[0-9]*' <<<"$page" | cut -d: -f2 | paste -sd, - || true)"
[[ -n $IDS && $(tr ',' '\n' <<<"$IDS" | wc -l) == 20 ]] || die "expected the writer's 20 memo ids, got: $page"
kill "$MEMO_PID" && wait "$MEMO_PID" 2>/dev/null || true

RAW="$WORK/raw.tsv" # round row per_second
: >"$RAW"
C="$CONNECTIONS"

floor_row() {
  local out
  out="$(env BENCH_PATH=/ BENCH_COOKIE="$MEMO_COOKIE" wrk -t "$THREADS" -c "$C" -d "${DURATION}s" \
    -s "$ROOT/bench/lua/request.lua" "$FLOOR_URL" | grep '^BENCH_RESULT')" || die "the floor gave no result"
  record "$1" floor "$out"
}

# record ROUND ROW "BENCH_RESULT ...": one row's rate; dies on any failed request.
record() {
  awk -v r="$1" -v n="$2" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (v["non2xx"] + v["socket_errors"] + v["failed"] > 0 || v["duration_us"] <= 0) { print "FAILED " $0; exit }
    printf "%s\t%s\t%.1f\n", r, n, v["requests"] / (v["duration_us"] / 1e6) }' <<<"$3" >>"$RAW"
  ! grep -q FAILED "$RAW" || die "row $2 had failures: $(grep FAILED "$RAW")"
}

# ---------------------------------------------------------------- SQLite
sqlite_row() { # sqlite_row ROUND insert|update
  local out
  out="$("$CEILING_BIN" --db "$DATA_DIR/memo.db" --user ceiling --write "$2" --ids "$IDS" \
    --batch "$C" --duration "$DURATION")" || die "bench-sqlite-ceiling --write $2 failed"
  record "$1" "sqlite_$2" "$out"
}

# ---------------------------------------------------------------- PostgreSQL
PGB="$WORK/pgbench"
if ((POSTGRES)); then
  mkdir -p "$PGB"
  user_id() { psql "$DATABASE_URL" -Atc "SELECT id FROM users WHERE user_name = '$1'"; }
  USER_ID="$(user_id ceiling)"
  READER_ID="$(user_id ceilingreader)"
  [[ -n $USER_ID && -n $READER_ID ]] || die "the seeded users are not in $PG_DB"
  FIRST_ID="${IDS%%,*}"
  # memo's statements (crates/memo/src/db/memos/postgres.rs) with the values memo binds,
  # planned as memo's connections plan them (crates/memo/src/db/mod.rs, postgres_options).
  export PGOPTIONS="${PGOPTIONS:+$PGOPTIONS }-c plan_cache_mode=force_generic_plan"
  # The pages (crates/memo/src/db/memos/postgres_pages.rs): GET /api/memos's defaults
  # (order=id, limit=50: 51 rows asked, from id 0), --connections / 2 pages a statement (see PAGES).
  cat >"$PGB/list.sql" <<'EOF'
SELECT b.n, m.* FROM unnest(array_fill(:reader::int8, ARRAY[:c::int]), array_fill(:archived::bool, ARRAY[:c::int]), array_fill(:after::int8, ARRAY[:c::int]), array_fill('9999-12-31'::timestamptz, ARRAY[:c::int]), array_fill(:limit::int8, ARRAY[:c::int])) WITH ORDINALITY AS b(owner, wanted_archived, after_id, after_at, lim, n) CROSS JOIN LATERAL (SELECT id, title, content, archived, created_at, updated_at FROM memos WHERE user_id = b.owner AND (archived, id) > (b.wanted_archived, b.after_id) AND (archived, id) <= (b.wanted_archived, 9223372036854775807) ORDER BY archived, id LIMIT b.lim) AS m;
EOF
  # memo's group commit of new memos (crates/memo/src/db/memos/postgres_inserts.rs):
  # one client, as memo's one inserting task, writing --connections memos a statement.
  cat >"$PGB/insert.sql" <<'EOF'
WITH written AS (INSERT INTO memos (user_id, title, content, archived, created_at, updated_at) SELECT user_id, title, content, FALSE, now(), now() FROM unnest(array_fill(:uid::int8, ARRAY[:c::int]), array_fill('written by pgbench'::text, ARRAY[:c::int]), array_fill('A new memo from the benchmark, about eighty characters of content.'::text, ARRAY[:c::int])) AS new(user_id, title, content) RETURNING user_id, id, title, content, archived, created_at, updated_at)
SELECT 1 / (count(*) = :c::int)::int AS ok FROM written
\gset
EOF
  cat >"$PGB/update.sql" <<'EOF'
\set id :first_id + random(0, 19)
UPDATE memos SET title = COALESCE('edited by pgbench', title), content = COALESCE(NULL, content), archived = COALESCE(NULL, archived), updated_at = now() WHERE id = :id AND user_id = :uid RETURNING id, title, content, archived, created_at, updated_at
\gset
EOF
  # jwt-extended's group commit of rotations (crates/jwt-extended/src/stores/pg_swaps.rs):
  # one client, as the store's one swapping task, swapping --connections families a
  # statement, each presenting the token its last swap made. The store runs this UPDATE
  # inside its function jwt_swap_sessions, with sequential scans off; on this table of
  # --connections rows the plain statement does the same work.
  cat >"$PGB/rotate.sql" <<'EOF'
WITH b AS (SELECT * FROM unnest(ARRAY(SELECT 'ceiling-' || i FROM generate_series(0, :c::int - 1) i ORDER BY 1), string_to_array(:jtis, ','), ARRAY(SELECT md5(random()::text) FROM generate_series(1, :c::int)), array_fill(NULL::int8, ARRAY[:c::int]), array_fill(extract(epoch FROM now())::int8, ARRAY[:c::int])) AS b(family, presented, successor, exp, now)),
u AS (UPDATE jwt_sessions AS s SET retired_jti = s.current_jti, retired_at = b.now, current_jti = b.successor, current_exp = b.exp, last_used_at = b.now FROM b WHERE s.family = ANY(ARRAY(SELECT family FROM b)) AND s.family = b.family AND s.current_jti = b.presented AND s.revoked_at IS NULL AND (s.current_exp IS NULL OR s.current_exp > b.now) RETURNING s.family, s.current_jti)
SELECT string_agg(current_jti, ',' ORDER BY family) AS jtis, 1 / (count(*) = :c::int)::int AS ok FROM u
\gset
EOF
fi
PAGE_BINDS=(-D reader="${READER_ID:-}" -D archived=false -D after=0 -D limit=51)
# memo reads pages with up to two statements in flight (postgres_pages.rs's IN_FLIGHT).
LIST_CLIENTS=$((C >= 2 ? 2 : 1))
PAGES=$(((C + LIST_CLIENTS - 1) / LIST_CLIENTS))
check_page() {
  local rows
  rows="$(psql "$DATABASE_URL" -Atc "$(sed -e "s/:reader/$READER_ID/g" -e 's/:archived/false/g' -e 's/:after/0/g' \
    -e 's/:limit/51/' -e "s/:c/$PAGES/g" "$PGB/list.sql")" | wc -l)" || die "the pages' statement failed"
  [[ $rows == $((PAGES * 20)) ]] || die "the pages' statement returned $rows rows, not $PAGES pages of the reader's 20 memos"
}

pgbench_inserts() { psql "$DATABASE_URL" -Atc "SELECT count(*) FROM memos WHERE title = 'written by pgbench'"; }

pgbench_row() { # pgbench_row ROUND list|insert|update|rotate
  local out before after
  if [[ $2 == rotate ]]; then
    psql "$DATABASE_URL" -qc "DELETE FROM jwt_sessions WHERE family LIKE 'ceiling-%';
      INSERT INTO jwt_sessions (family, user_id, created_at, last_used_at, user_agent, current_jti, current_exp)
      SELECT 'ceiling-' || n, $USER_ID, 0, 0, 'pgbench', 'first', NULL FROM generate_series(0, $((C - 1))) n" >/dev/null
  fi
  [[ $2 == list ]] && check_page
  [[ $2 == insert ]] && before="$(pgbench_inserts)"
  # The writes memo batches: one client, $C rows a statement (one statement in flight in
  # memo); the pages: two clients of $C / 2 (two in flight); the update: $C clients.
  local clients="$C" threads="$THREADS" per=1
  [[ $2 == insert || $2 == rotate ]] && clients=1 threads=1 per="$C"
  [[ $2 == list ]] && clients="$LIST_CLIENTS" threads="$LIST_CLIENTS" per="$PAGES"
  out="$(pgbench -n -M prepared -c "$clients" -j "$threads" -T "$DURATION" -D uid="$USER_ID" -D first_id="$FIRST_ID" \
    -D c="$per" -D jtis="$(printf 'first%.0s,' $(seq "$C") | sed 's/,$//')" "${PAGE_BINDS[@]}" \
    -f "$PGB/$2.sql" "$DATABASE_URL" 2>&1)" || die "pgbench $2 failed: $out"
  local done failed
  done="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")"
  failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")"
  [[ -n $done && ${failed:-0} == 0 ]] || die "pgbench $2: $out"
  done=$((done * per))
  if [[ $2 == insert ]]; then
    after="$(pgbench_inserts)"
    ((after - before == done)) || die "pgbench insert reported $done inserts, the table gained $((after - before))"
  fi
  local seconds; seconds="$(sed -n 's/^duration: \([0-9]*\) s.*/\1/p' <<<"$out")"
  record "$1" "pg_$2" "BENCH_RESULT requests=$done duration_us=$((${seconds:-$DURATION} * 1000000))"
}

for ((r = 1; r <= ROUNDS; r++)); do
  say "round $r of $ROUNDS: $C connections, ${DURATION} s per row"
  floor_row "$r"
  if ((POSTGRES)); then
    for row in list insert update rotate; do pgbench_row "$r" "$row"; done
  else
    for row in insert update; do sqlite_row "$r" "$row"; done
  fi
done

# ---------------------------------------------------------------- report
label() {
  case "$1" in
    sqlite_insert) echo "SQLite: memo's insert (POST /api/memos), $C per commit|0.25" ;;
    sqlite_update) echo "SQLite: memo's update (PATCH /api/memos/{id}), $C per commit|-" ;;
    pg_list) echo "PostgreSQL: memo's first page, 20 memos (GET /api/memos), $PAGES per statement, $LIST_CLIENTS in flight|0.25" ;;
    pg_insert) echo "PostgreSQL: memo's insert (POST /api/memos), $C per statement|0.1" ;;
    pg_update) echo "PostgreSQL: memo's update (PATCH /api/memos/{id})|-" ;;
    pg_rotate) echo "PostgreSQL: jwt-extended's rotation (POST /api/auth/refresh), $C per statement|0.15" ;;
  esac
}
echo
echo "Ceilings: the database alone at $C connections, $ROUNDS rounds of ${DURATION} s ($(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "| statement | per second | ratio to the floor | issue 13's target for memo's row |"
echo "|---|---:|---:|---:|"
printf '| floor (wrk on bench-floor) | %.0f | 1.000x | |\n' "$(awk -F'\t' '$2 == "floor" { print $3 }' "$RAW" | median)"
for row in $(awk -F'\t' '$2 != "floor" { print $2 }' "$RAW" | awk '!seen[$0]++'); do
  ratio="$(awk -F'\t' -v n="$row" '$2 == "floor" { f[$1] = $3 } $2 == n { v[$1] = $3 }
    END { for (r in v) print v[r] / f[r] }' "$RAW" | median)"
  IFS='|' read -r what target <<<"$(label "$row")"
  printf '| %s | %.0f | %.3fx | %s |\n' "$what" "$(awk -F'\t' -v n="$row" '$2 == n { print $3 }' "$RAW" | median)" \
    "$ratio" "$([[ $target == - ]] && echo "" || echo ">= ${target}x")"
done
