#!/usr/bin/env bash
# Builds the helm command used by the chart's checks and end-to-end tests from the Go module pinned
# in this directory, into a cache directory keyed by its version and go.sum (the same cache root as
# test/controlplane/build.sh). Skips the build when the binary is already there. Prints the
# directory holding `helm` on its last line.
#
#   IDPSYNC_CACHE_DIR   cache root (default: <repo>/.cache)
#   IDPSYNC_REBUILD=1   build even when the cached binary exists
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_root="${IDPSYNC_CACHE_DIR:-$repo/.cache}"

module_version() {
  awk -v mod="$1" '($1 == mod || ($1 == "require" && $2 == mod)) { for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$here/go.mod"
}
helm_version="$(module_version helm.sh/helm/v3)"
client_go_version="$(module_version k8s.io/client-go)"
if [[ -z "$helm_version" || -z "$client_go_version" ]]; then
  echo "helm/build.sh: cannot read the helm.sh/helm/v3 or k8s.io/client-go version from $here/go.mod" >&2
  exit 1
fi

key_hash="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
bin_dir="$cache_root/helm/helm-$helm_version-$key_hash"

if [[ "${IDPSYNC_REBUILD:-}" != 1 && -x "$bin_dir/helm" ]]; then
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null || { echo "helm/build.sh: the go command is needed to build helm" >&2; exit 1; }
mkdir -p "$cache_root/helm"

# One build at a time per cache; a second caller waits and then finds the binary.
exec 9>"$cache_root/helm/.build.lock"
if command -v flock >/dev/null; then flock 9; fi
if [[ "${IDPSYNC_REBUILD:-}" != 1 && -x "$bin_dir/helm" ]]; then
  echo "$bin_dir"
  exit 0
fi

staging="$(mktemp -d "$cache_root/helm/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

# Without these, helm assumes Kubernetes 1.20 for `helm template` and `helm lint` (.Capabilities),
# and the chart's kubeVersion (>= 1.31) would refuse to render. Helm's own Makefile derives them
# from client-go the same way: v0.X.Y serves Kubernetes 1.X.
k8s_minor="${client_go_version#v0.}"
k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

echo "helm/build.sh: building helm $helm_version into $bin_dir" >&2
started=$SECONDS
(
  cd "$here"
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
  go build -trimpath -ldflags "$ldflags" -o "$staging/helm" helm.sh/helm/v3/cmd/helm
)
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
chmod 755 "$bin_dir"
trap - EXIT
echo "helm/build.sh: built in $((SECONDS - started)) s" >&2
echo "$bin_dir"
