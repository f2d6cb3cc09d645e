# Shared by the fault drills: a private scratch dir, memo started on a free port, and cleanup
# that stops everything the drill started (never the shared services on 5432/6379).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"
MEMO_BIN="${MEMO_BIN:-$CARGO_TARGET_DIR/release/memo}"
WORK="$(mktemp -d /tmp/memo-drill.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
CLEANUPS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  local step
  for step in "${CLEANUPS[@]}"; do eval "$step" || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

build_memo() {
  if [[ ! -x "$MEMO_BIN" || -n "${REBUILD:-}" ]]; then
    log "building memo (release)"
    (cd "$ROOT" && cargo build --release -p memo >&2)
  fi
}

# start_memo NAME ENV...: starts memo with the given environment; sets MEMO_PORT, MEMO_PID.
start_memo() {
  local name="$1"; shift
  mkdir -p "$WORK/$name"
  env -i PATH="$PATH" MEMO_DATA_DIR="$WORK/$name" MEMO_BIND=127.0.0.1:0 RUST_LOG=warn \
    MEMO_RATE_LIMITS=off JWT_SECRET_KEY=drill-secret-drill-secret-drill-secret-0123 "$@" \
    "$MEMO_BIN" serve >"$WORK/$name.out" 2>"$WORK/$name.log" &
  MEMO_PID=$!
  PIDS+=("$MEMO_PID")
  local i
  for i in $(seq 100); do
    if grep -q "memo listening on" "$WORK/$name.out" 2>/dev/null; then
      MEMO_PORT="$(sed -n 's#.*http://127.0.0.1:\([0-9]*\).*#\1#p' "$WORK/$name.out")"
      return 0
    fi
    sleep 0.1
  done
  cat "$WORK/$name.log" >&2
  return 1
}

# health PORT: the status and body of GET /api/health.
health() { curl -s -m 5 -w ' %{http_code}' "http://127.0.0.1:$1/api/health"; }

# check_acknowledged SUMMARY PORT: every acknowledged id is readable now.
check_acknowledged() {
  python3 - "$1" "$2" <<'PY'
import json, sys, http.client
summary = json.load(open(sys.argv[1])); port = int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
body = json.dumps({"user_name": "drill", "password": "drill password 123"})
c.request("POST", "/api/auth/login", body, {"Content-Type": "application/json"})
r = c.getresponse(); r.read()
cookie = [v.split(";")[0] for v in r.headers.get_all("Set-Cookie") if v.startswith("access_token_cookie=")][0]
missing = []
for memo_id in summary["acknowledged_ids"]:
    c.request("GET", f"/api/memos/{memo_id}", headers={"Cookie": cookie})
    r = c.getresponse(); r.read()
    if r.status != 200: missing.append(memo_id)
print(json.dumps({"acknowledged": len(summary["acknowledged_ids"]), "missing": len(missing)}))
sys.exit(1 if missing else 0)
PY
}

summarize() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("acknowledged_ids"); print(json.dumps(d))' "$1"; }

# memo_errors NAME: the causes of any 500 in memo's log (there should be none).
memo_errors() { grep "request failed" "$WORK/$1.log" | sed 's/.*cause=//' | sort | uniq -c | head -5 || true; }
