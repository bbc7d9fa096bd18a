#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kubectl) from the
# Go modules pinned in this directory, into a cache directory keyed by their versions and go.sum.
# Skips the build when the binaries are already there. Prints the bin directory on its last line.
#
#   IDPSYNC_CACHE_DIR   cache root (default: <repo>/.cache)
#   IDPSYNC_REBUILD=1   build even when the cached binaries exist
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache_root="${IDPSYNC_CACHE_DIR:-$repo/.cache}"

module_version() {
  awk -v mod="$1" '$1 == mod && $2 ~ /^v/ { print $2; exit }' "$here/go.mod"
}
k8s_version="$(module_version k8s.io/kubernetes)"
etcd_version="$(module_version go.etcd.io/etcd/server/v3)"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  echo "build.sh: cannot read the k8s.io/kubernetes or etcd version from $here/go.mod" >&2
  exit 1
fi

# The key changes with the pinned versions, with any dependency (go.sum) and with this script.
key_hash="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-12)"
bin_dir="$cache_root/controlplane/k8s-$k8s_version-etcd-$etcd_version-$key_hash"
binaries=(etcd kube-apiserver kube-controller-manager kubectl)

have_all() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || return 1; done
}

if [[ "${IDPSYNC_REBUILD:-}" != 1 ]] && have_all; then
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: the go command is needed to build the control plane" >&2; exit 1; }
mkdir -p "$cache_root/controlplane"

# One build at a time per cache; a second caller waits and then finds the binaries.
exec 9>"$cache_root/controlplane/.build.lock"
if command -v flock >/dev/null; then flock 9; fi
if [[ "${IDPSYNC_REBUILD:-}" != 1 ]] && have_all; then
  echo "$bin_dir"
  exit 0
fi

staging="$(mktemp -d "$cache_root/controlplane/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

# The module's publication time (from the proxy's .info) stands in for the build date, so that
# /version is reproducible; the commit is not published by the module proxy and is left empty.
info_file="$(cd "$here" && go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/.*"Info": *"\([^"]*\)".*/\1/p')"
build_date="$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' "$info_file" 2>/dev/null || true)"
build_date="${build_date:-1970-01-01T00:00:00Z}"
k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"

k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version"
  k8s_ldflags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
# etcd's version string is a constant in its api module already; only its commit is stamped at build.
etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$etcd_version"

echo "build.sh: building Kubernetes $k8s_version and etcd $etcd_version into $bin_dir (a cold build takes minutes)" >&2
started=$SECONDS
(
  cd "$here"
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
  go build -trimpath -ldflags "$k8s_ldflags" -o "$staging/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl
  go build -trimpath -ldflags "$etcd_ldflags" -o "$staging/etcd" go.etcd.io/etcd/server/v3
)
rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
chmod 755 "$bin_dir"
trap - EXIT
echo "build.sh: built in $((SECONDS - started)) s" >&2
echo "$bin_dir"
