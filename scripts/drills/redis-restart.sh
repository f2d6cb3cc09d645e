#!/usr/bin/env bash
# Fault drill: a private Redis (its own port, no persistence on disk... but with an append-only
# file in the temp dir, as a deployment keeping sessions would) is killed and started again
# during a 30 s load of writes and reads on memo (SQLite, sessions in Redis). Expected: requests
# fail closed with 503 {"msg"} while Redis is down, recover by themselves, and a logout made
# before the outage still holds after it. Never touches the shared Redis on 6379.
# Usage: scripts/drills/redis-restart.sh [seconds] [outage-seconds]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_TOTAL="${1:-30}"
OUTAGE="${2:-5}"
build_memo
REDIS_PORT="$(free_port)"
redis_up() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --appendonly yes \
    --appendfsync always --save "" --daemonize no >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.05; done
}
redis_up
start_memo memo REDIS_URL="redis://127.0.0.1:$REDIS_PORT" MEMO_REDIS_PREFIX=drill

# A login that is logged out before the outage: its token must stay refused after it.
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"user_name":"revoked","password":"drill password 123"}' "http://127.0.0.1:$MEMO_PORT/api/auth/register"
JAR="$WORK/revoked.jar"
curl -s -o /dev/null -c "$JAR" -X POST -H 'Content-Type: application/json' \
  -d '{"user_name":"revoked","password":"drill password 123"}' "http://127.0.0.1:$MEMO_PORT/api/auth/login"
ACCESS="$(awk '$6=="access_token_cookie"{print $7}' "$JAR")"
CSRF="$(awk '$6=="csrf_access_token"{print $7}' "$JAR")"
curl -s -o /dev/null -X POST -b "access_token_cookie=$ACCESS" -H "X-CSRF-TOKEN: $CSRF" \
  "http://127.0.0.1:$MEMO_PORT/api/auth/logout"
status_of() { curl -s -o /dev/null -w '%{http_code}' -b "access_token_cookie=$ACCESS" "http://127.0.0.1:$MEMO_PORT/api/auth/status"; }
BEFORE="$(status_of)"

log "memo on port $MEMO_PORT; load for ${SECONDS_TOTAL}s"
python3 "$(dirname "${BASH_SOURCE[0]}")/load.py" --port "$MEMO_PORT" --seconds "$SECONDS_TOTAL" --read >"$WORK/load.json" &
LOAD=$!
sleep $((SECONDS_TOTAL / 3))
log "killing Redis for ${OUTAGE}s"
kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
sleep 1
HEALTH_DOWN="$(health "$MEMO_PORT")"
DURING="$(status_of)"
sleep $((OUTAGE - 1))
log "starting Redis again (same data dir)"
redis_up
STARTED="$(date +%s.%N)"
until [[ "$(health "$MEMO_PORT")" == *" 200" ]]; do sleep 0.1; done
RECOVERED="$(python3 -c "import time; print(round(time.time() - $STARTED, 2))")"
wait "$LOAD"
AFTER="$(status_of)"
echo "health while Redis was down: $HEALTH_DOWN"
echo "health 200 again ${RECOVERED}s after Redis was back"
echo "logged-out token: before $BEFORE, during $DURING, after $AFTER (401 = still refused)"
echo "load: $(summarize "$WORK/load.json")"
echo "check: $(check_acknowledged "$WORK/load.json" "$MEMO_PORT")"
echo "500s in memo log: $(memo_errors memo)"
