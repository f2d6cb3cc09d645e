#!/usr/bin/env bash
# Property-based API conformance with schemathesis (PyPI) against memo's own
# /api/openapi.json, with a logged-in session (cookies + X-CSRF-TOKEN):
# no 5xx, every status, header and body documented, every body matching its
# schema. Not part of CI: it is slow and its examples are random.
#
#   scripts/schemathesis.sh                   # 25 examples per operation
#   ST_MAX_EXAMPLES=200 scripts/schemathesis.sh
#
# Uses a venv in $HOME/.cache/jwt-memo/venv-schemathesis, a fresh SQLite data
# dir, and the debug build of memo. Logout and logout-all are left out (they
# would end the session every other operation is tested with), and so is
# DELETE /api/auth/sessions/{id} (the stateful phase deletes the session it
# listed). negative_data_rejection is skipped: the session cookie is forced on
# every request with -H, so its "request without access_token_cookie" cases
# still carry the cookie and are rightly accepted (false ST201 findings). Rate limits are left on: schemathesis
# then meets the documented 429s too (a 429 is in the spec of login and register).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"
VENV="$HOME/.cache/jwt-memo/venv-schemathesis"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-25}"

if [[ ! -x "$VENV/bin/schemathesis" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet schemathesis
fi
echo "schemathesis $("$VENV/bin/schemathesis" --version 2>&1 | tail -1)"

cargo build -p memo --quiet
DATA="$(mktemp -d)"
OUT="$DATA/stdout"
cleanup() {
  [[ -n "${PID:-}" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT
MEMO_BIND=127.0.0.1:0 MEMO_DATA_DIR="$DATA" RUST_LOG="${RUST_LOG:-warn}" \
  "$CARGO_TARGET_DIR/debug/memo" >"$OUT" 2>"$DATA/stderr" &
PID=$!
for _ in $(seq 100); do grep -q listening "$OUT" 2>/dev/null && break; sleep 0.1; done
BASE="$(sed -n 's/^memo listening on //p' "$OUT")"
[[ -n "$BASE" ]] || { cat "$DATA/stderr"; echo "memo did not start" >&2; exit 1; }
echo "memo at $BASE"

JAR="$DATA/cookies"
CREDS='{"user_name":"schemathesis","password":"schemathesis-password"}'
curl -fsS -o /dev/null -H 'Content-Type: application/json' -d "$CREDS" "$BASE/api/auth/register"
curl -fsS -o /dev/null -c "$JAR" -H 'Content-Type: application/json' -d "$CREDS" "$BASE/api/auth/login"
cookie() { awk -v n="$1" '$6 == n { print $7 }' "$JAR" | tail -1; }
ACCESS="$(cookie access_token_cookie)"
CSRF="$(cookie csrf_access_token)"
[[ -n "$ACCESS" && -n "$CSRF" ]] || { echo "login failed" >&2; exit 1; }

set +e
# From the temporary dir, so that schemathesis' .schemathesis/ cache stays out of the repo.
cd "$DATA"
"$VENV/bin/schemathesis" run "$BASE/api/openapi.json" \
  --url "$BASE" \
  --header "Cookie: access_token_cookie=$ACCESS; csrf_access_token=$CSRF" \
  --header "X-CSRF-TOKEN: $CSRF" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --seed "${ST_SEED:-1}" \
  --exclude-path /api/auth/logout \
  --exclude-path /api/auth/logout-all \
  --exclude-path '/api/auth/sessions/{id}' \
  --exclude-checks negative_data_rejection \
  "$@"
rc=$?
set -e
if grep -q "panicked" "$DATA/stderr"; then
  echo "memo panicked:" >&2
  grep -B2 -A5 panicked "$DATA/stderr" >&2
  rc=1
fi
exit $rc
