# shellcheck shell=bash disable=SC2034 # sourced by bench/run.sh: its variables cross files
# --peer: the original's stack beside memo in the same run: the article's
# Flask app (bench/peer) with Flask-JWT-Extended and Flask-SQLAlchemy on
# SQLite, served by gunicorn with 4 sync workers on 127.0.0.1, from a venv
# made with pip (kept in BENCH_PEER_VENV, default ~/.cache/jwt-memo/bench-peer-venv,
# and remade when bench/peer/requirements.txt changes).

PEER_VENV="${BENCH_PEER_VENV:-$HOME/.cache/jwt-memo/bench-peer-venv}"
PEER_WORKERS=4

peer_venv() {
  local req="$ROOT/bench/peer/requirements.txt"
  if [[ -x $PEER_VENV/bin/gunicorn ]] && cmp -s "$req" "$PEER_VENV/.requirements.txt"; then return; fi
  command -v python3 >/dev/null || die "--peer needs python3 (apt-get install -y python3 python3-venv)"
  say "making the original's venv in $PEER_VENV (python3 -m venv, pip install -r bench/peer/requirements.txt)"
  rm -rf "$PEER_VENV"
  python3 -m venv "$PEER_VENV" || die "python3 -m venv failed (apt-get install -y python3-venv)"
  "$PEER_VENV/bin/pip" install --disable-pip-version-check -q -r "$req" || die "pip could not install bench/peer/requirements.txt"
  cp "$req" "$PEER_VENV/.requirements.txt"
}

# The gunicorn master and its workers (CPU per request counts all of them).
# shellcheck disable=SC2046 # one pid a word
peer_pids() { echo "$PEER_PID" $(pgrep -P "$PEER_PID" || true); }

# peer_start USERS MEMOS: seeds the peer's database (its user "bench1" with
# MEMOS memos), starts gunicorn, logs in; sets PEER_URL, PEER_PID, PEER_COOKIE.
peer_start() {
  local memos="$1"
  peer_venv
  local env=(env FRONTEND_ORIGIN=http://localhost:8080 PEER_DATABASE="$WORK/peer.db" PEER_ACCESS_TOKEN_MINUTES=120
    JWT_SECRET_KEY="$SECRET" PYTHONPYCACHEPREFIX="$WORK/pycache")
  (cd "$ROOT/bench/peer" && "${env[@]}" "$PEER_VENV/bin/python" seed.py bench1 "$PASSWORD" "$memos") \
    || die "could not seed the peer's database"
  start peer 'Listening at:' "${env[@]}" "$PEER_VENV/bin/gunicorn" --chdir "$ROOT/bench/peer" \
    -w "$PEER_WORKERS" -b 127.0.0.1:0 --access-logfile "$WORK/peer-access.log" --access-logformat '%(U)s %(s)s' wsgi:app
  # Wait for the workers to boot: the master listens before they answer.
  local jar="$WORK/peer.jar" i out=""
  for ((i = 0; i < 100; i++)); do
    out="$(api "$PEER_URL" POST /auth/login "$jar" "{\"user_name\":\"bench1\",\"password\":\"$PASSWORD\"}" 2>/dev/null)" || true
    [[ $(tail -n1 <<<"$out") == 200 ]] && break
    sleep 0.1
  done
  expect 200 "$out" "login to the peer (Flask)"
  PEER_COOKIE="access_token_cookie=$(cookie "$jar" access_token_cookie)"
  say "the original's stack: gunicorn -w $PEER_WORKERS (Flask 2.0.2, Flask-JWT-Extended 4.3.1) at $PEER_URL"
}
