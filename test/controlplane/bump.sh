#!/usr/bin/env bash
# Moves the test control plane to another Kubernetes release:  test/controlplane/bump.sh v1.36.3
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and
# replaces them with ./staging/... paths, which Go ignores in a dependency. This module therefore
# repeats one replace per staging module, pinned to the matching v0.Y.Z tag, taken from the
# release's own go.mod; etcd is pinned to the version that release requires.
set -euo pipefail

version="${1:?usage: bump.sh vX.Y.Z (a Kubernetes release)}"
[[ "$version" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "bump.sh: expected a release such as v1.36.3, got $version" >&2; exit 1; }
staging_version="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
cd "$(dirname "${BASH_SOURCE[0]}")"

release_gomod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": *"\([^"]*\)".*/\1/p')"
[[ -f "$release_gomod" ]] || { echo "bump.sh: could not download the go.mod of k8s.io/kubernetes@$version" >&2; exit 1; }

staging_modules="$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$release_gomod")"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$release_gomod")"
[[ -n "$staging_modules" && -n "$etcd_version" ]] || { echo "bump.sh: unexpected layout of $release_gomod" >&2; exit 1; }

# Drop the old replace lines (modules may have left staging), then add this release's.
for old in $(go mod edit -json | tr -d ' \t\n' | grep -o '"Old":{"Path":"[^"]*"' | cut -d'"' -f6); do
  go mod edit -dropreplace "$old"
done
{
  printf '\nreplace (\n'
  for module in $staging_modules; do printf '\t%s => %s %s\n' "$module" "$module" "$staging_version"; done
  printf ')\n'
} >>go.mod
go mod edit -require "k8s.io/kubernetes@$version" -require "go.etcd.io/etcd/server/v3@$etcd_version"
go mod tidy

echo "k8s.io/kubernetes $version, etcd $etcd_version, $(wc -w <<<"$staging_modules") staging modules at $staging_version."
echo "Build with test/controlplane/build.sh (the cache key changes with go.mod/go.sum), then run the end-to-end tests."
