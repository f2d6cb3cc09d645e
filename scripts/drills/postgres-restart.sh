#!/usr/bin/env bash
# Fault drill: a private PostgreSQL (initdb in a temp dir, its own port) is stopped for a few
# seconds and started again in the middle of a 30 s load of writes, each followed by a read of
# the list, on memo. Expected: writes and reads during the outage fail fast with 503 {"msg"},
# memo's pool and its batching tasks recover by themselves, and every acknowledged write is
# there afterwards. Never touches the shared PostgreSQL on 5432. Stops everything it
# started, whatever happens. Usage: scripts/drills/postgres-restart.sh [seconds] [outage-seconds]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_TOTAL="${1:-30}"
OUTAGE="${2:-5}"
build_memo
PG_PORT="$(free_port)"
PG_DIR="$WORK/pg"
mkdir -p "$PG_DIR" && chown postgres "$PG_DIR" "$WORK"
as_pg() { runuser -u postgres -- "$@"; }
log "initdb in $PG_DIR, port $PG_PORT"
as_pg initdb -D "$PG_DIR/data" -U postgres -A trust >/dev/null
pg() { as_pg pg_ctl -D "$PG_DIR/data" -l "$PG_DIR/log" -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" -w "$@" >/dev/null; }
pg start
CLEANUPS+=("runuser -u postgres -- pg_ctl -D '$PG_DIR/data' -m immediate stop >/dev/null 2>&1")

start_memo memo DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
log "memo on port $MEMO_PORT; write and read load for ${SECONDS_TOTAL}s"
python3 "$(dirname "${BASH_SOURCE[0]}")/load.py" --port "$MEMO_PORT" --seconds "$SECONDS_TOTAL" --read >"$WORK/load.json" &
LOAD=$!
sleep $((SECONDS_TOTAL / 3))
log "stopping PostgreSQL (fast) for ${OUTAGE}s"
pg -m fast stop
sleep 1
HEALTH_DOWN="$(health "$MEMO_PORT")"
sleep $((OUTAGE - 1))
log "starting PostgreSQL again"
pg start
STARTED="$(date +%s.%N)"
until [[ "$(health "$MEMO_PORT")" == *" 200" ]]; do sleep 0.1; done
RECOVERED="$(python3 -c "import time; print(round(time.time() - $STARTED, 2))")"
wait "$LOAD"
echo "health while PostgreSQL was down: $HEALTH_DOWN"
echo "health 200 again ${RECOVERED}s after PostgreSQL was back"
echo "load: $(summarize "$WORK/load.json")"
echo "check: $(check_acknowledged "$WORK/load.json" "$MEMO_PORT")"
echo "500s in memo log: $(memo_errors memo)"
