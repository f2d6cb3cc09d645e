#!/usr/bin/env bash
# Interop with the real Flask-JWT-Extended: installs it from PyPI into a venv (reused across
# runs) and runs crates/jwt-extended/tests/interop.rs against it.
#
#   scripts/test-interop.sh            # creates or reuses $HOME/.cache/jwt-memo/venv
#   JWT_INTEROP_VENV=/some/venv scripts/test-interop.sh
set -euo pipefail

cd "$(dirname "$0")/.."
venv="${JWT_INTEROP_VENV:-$HOME/.cache/jwt-memo/venv}"
python="${PYTHON:-python3}"
requirements=("flask-jwt-extended==4.7.*" "pyjwt[crypto]>=2.10")

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating venv $venv"
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" - <<'PY' 2>/dev/null
from importlib.metadata import version
import cryptography  # noqa: F401  (RS256)
assert version("flask-jwt-extended").startswith("4.7.")
PY
then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
fi
"$venv/bin/python" scripts/interop/flask_jwt.py versions

export JWT_INTEROP_PYTHON="$venv/bin/python"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"
cargo test -p jwt-extended --test interop -- "$@"
