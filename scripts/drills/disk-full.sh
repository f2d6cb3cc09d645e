#!/usr/bin/env bash
# Fault drill: memo's data dir (SQLite) is a 8 MiB tmpfs; a write load fills it. Expected:
# writes answer 507 or 503 {"msg"} once the disk is full, reads keep working, and after space
# returns the database passes PRAGMA integrity_check, every acknowledged write is there and
# writes work again. Needs root (mount). Unmounts and removes everything it made.
# Usage: scripts/drills/disk-full.sh [seconds]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_TOTAL="${1:-20}"
build_memo
DATA="$WORK/memo"
mkdir -p "$DATA"
mount -t tmpfs -o size=8m tmpfs "$DATA"
CLEANUPS+=("umount '$DATA'")
start_memo memo
log "memo on port $MEMO_PORT, data dir a 8 MiB tmpfs; ${SECONDS_TOTAL}s of 40 KB writes"
# Bigger memos fill the disk sooner.
sed 's/"x" \* 200/"x" * 40000/' "$(dirname "${BASH_SOURCE[0]}")/load.py" >"$WORK/load-big.py"
python3 "$WORK/load-big.py" --port "$MEMO_PORT" --seconds "$SECONDS_TOTAL" --read >"$WORK/load.json"
echo "disk: $(df -h "$DATA" | tail -1)"
echo "load while filling: $(summarize "$WORK/load.json")"
HEALTH_FULL="$(health "$MEMO_PORT")"
echo "health with the disk full: $HEALTH_FULL"
echo "acknowledged before space returned: $(check_acknowledged "$WORK/load.json" "$MEMO_PORT")"
log "giving space back (tmpfs grown to 64 MiB)"
mount -o remount,size=64m "$DATA"
python3 "$(dirname "${BASH_SOURCE[0]}")/load.py" --port "$MEMO_PORT" --seconds 3 --threads 2 >"$WORK/after.json"
echo "writes after space returned: $(summarize "$WORK/after.json")"
kill "$MEMO_PID"; wait "$MEMO_PID" 2>/dev/null || true
echo "500s in memo log: $(memo_errors memo)"
echo "integrity_check: $(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$DATA/memo.db")"
start_memo memo2 MEMO_DATA_DIR="$DATA"
echo "after restart: $(check_acknowledged "$WORK/load.json" "$MEMO_PORT")"
