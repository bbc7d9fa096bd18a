#!/usr/bin/env bash
# Runs the image built by scripts/build-image.sh: `idpsync version`, then the operator from the image
# against the test control plane until a DirectorySync is Ready (test/e2e/image.e2e.ts).
# Usage: scripts/test-image.sh [IMAGE]   (default localhost/idpsync:<package.json version>)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/image-storage.sh
. scripts/image-storage.sh
IDPSYNC_IMAGE=${1:-localhost/idpsync:$(node -p 'require("./package.json").version')}
if ! bah inspect --type image "$IDPSYNC_IMAGE" >/dev/null 2>&1; then
  echo "test-image: no image $IDPSYNC_IMAGE in buildah's $STORAGE_DRIVER storage; run scripts/build-image.sh first" >&2
  exit 1
fi
export IDPSYNC_IMAGE
exec npx mocha --config test/e2e/.mocharc.json test/e2e/image.e2e.ts
