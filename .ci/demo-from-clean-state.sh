#!/usr/bin/env bash
# The README's first command from a clean state: `npm run demo -- --exit` with a cache directory
# nothing has used before. It is seeded (hard links, else copies) with the control-plane binaries
# build.sh already made, so build.sh finds them instead of building for minutes again, and the
# demo has to come up within its own start-up budget. Fails when the demo fails or takes too long.
set -euo pipefail
cd "$(dirname "$0")/.."

built="$(bash test/controlplane/build.sh | tail -n 1)"
clean="$(mktemp -d)"
trap 'rm -rf "$clean"' EXIT
seeded="$clean/controlplane/$(basename "$built")"
mkdir -p "$seeded" "$clean/tmp"
cp -l "$built"/* "$seeded"/ 2>/dev/null || cp "$built"/* "$seeded"/

started=$SECONDS
# TMPDIR: the demo's cluster directory lands in $clean too, and goes with it.
env -u IDPSYNC_CONTROLPLANE_BIN_DIR IDPSYNC_CACHE_DIR="$clean" TMPDIR="$clean/tmp" \
  timeout --kill-after=10 "${DEMO_TIMEOUT_SECONDS:-150}" npm run -s demo -- --exit
echo "demo from a clean state: passed in $((SECONDS - started)) s"
