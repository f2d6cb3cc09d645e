# shellcheck shell=bash
# build_spa: installs web/'s npm packages when package-lock.json changed since the last install,
# then builds the SPA into web/dist, which release builds of memo embed. Run from the
# repository's root.
build_spa() {
  command -v npm >/dev/null || { echo "Node.js 20+ and npm are required" >&2; return 1; }
  local lock_hash
  lock_hash="$(sha256sum web/package-lock.json | cut -d' ' -f1)"
  if [[ ! -f web/node_modules/.package-lock.sha256 || "$(cat web/node_modules/.package-lock.sha256)" != "$lock_hash" ]]; then
    npm --prefix web ci --no-audit --no-fund
    echo "$lock_hash" > web/node_modules/.package-lock.sha256
  fi
  npm --prefix web run build
}
