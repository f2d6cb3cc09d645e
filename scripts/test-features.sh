#!/usr/bin/env bash
# jwt-extended with every feature combination an app may pick: none, each alone, all. Each is
# built and tested (unit, integration, doc tests, examples), and the docs of none and of all are
# built with warnings denied. Exits non-zero when any fails.
#
#   scripts/test-features.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jwt-memo/target}"

failed=()
run() { local name="$1"; shift; echo "==== $name"; "$@" || failed+=("$name"); }

for features in "" sqlite postgres redis remote-jwks "sqlite,postgres,redis,remote-jwks"; do
    run "test [${features:-none}]" \
        cargo test -p jwt-extended --no-default-features --features "$features" --all-targets
    run "doc tests [${features:-none}]" \
        cargo test -p jwt-extended --no-default-features --features "$features" --doc
done
for features in "" "sqlite,postgres,redis,remote-jwks"; do
    run "cargo doc [${features:-none}]" env RUSTDOCFLAGS="-D warnings" \
        cargo doc -p jwt-extended --no-deps --no-default-features --features "$features"
done

if ((${#failed[@]})); then
    printf '\nFAILED: %s\n' "${failed[*]}"
    exit 1
fi
printf '\nevery feature combination passed\n'
