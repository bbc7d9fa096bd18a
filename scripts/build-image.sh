#!/usr/bin/env bash
# Builds the operator image (localhost/idpsync:<package.json version>) without a container registry:
#   1. a Debian bookworm root filesystem from mmdebstrap with tini and ca-certificates, plus Node 20;
#   2. imported into buildah's local storage as the base image (cached, keyed on its inputs);
#   3. the Dockerfile built on it with buildah.
#
# Debian bookworm ships Node 18 and bookworm-backports has no nodejs, so the Node 20 in the base is
# this machine's own `node` binary (the one the project is developed and tested with). It is copied
# in only if it is Node 20 and needs nothing beyond libc, libm, libstdc++ and libgcc_s, which the
# rootfs has; NODE_BIN picks another binary.
#
# Usage: scripts/build-image.sh [--tag NAME] [--oci-archive FILE]
# Needs root. Installs buildah and mmdebstrap from Debian if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(node -p 'require("./package.json").version')
tag="localhost/idpsync:${version}"
oci_archive=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --oci-archive) oci_archive="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
packages=tini,ca-certificates,libstdc++6,libgcc-s1
nonroot_uid=65532
node_bin=$(readlink -f "${NODE_BIN:-$(command -v node)}")
npm_dir=${NPM_DIR:-$(npm root -g)/npm}

log() { echo "build-image: $*" >&2; }
step_started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - step_started ))s"; }

need_packages=()
command -v buildah >/dev/null || need_packages+=(buildah)
command -v mmdebstrap >/dev/null || need_packages+=(mmdebstrap)
if [ ${#need_packages[@]} -gt 0 ]; then
  log "installing ${need_packages[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
fi

# shellcheck source=scripts/image-storage.sh
. scripts/image-storage.sh
image_exists() { bah inspect --type image "$1" >/dev/null 2>&1; }

node_version=$("$node_bin" --version)
case "$node_version" in
  v20.*) ;;
  *) log "$node_bin is Node $node_version; the image needs Node 20 (set NODE_BIN)"; exit 1 ;;
esac
unexpected_libs=$(ldd "$node_bin" | awk '{print $1}' | grep -v -E '^(linux-vdso|/lib64/ld-linux-x86-64)|^lib(c|m|dl|pthread|stdc\+\+|gcc_s)\.so' || true)
if [ -n "$unexpected_libs" ]; then
  log "$node_bin links libraries the base does not have: $unexpected_libs"
  exit 1
fi
npm_version=$(node -p "require('$npm_dir/package.json').version")

# The base is rebuilt only when one of its inputs changes.
base_key=$( {
  echo "$suite $mirror $security_mirror $packages uid=$nonroot_uid"
  sed -n '/^build_base()/,/^}/p' "$0"
  sha256sum "$node_bin" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
base_image="localhost/idpsync-base:${base_key}"
build_base_image="localhost/idpsync-build-base:${base_key}-npm${npm_version}"

build_base() {
  local work rootfs ctr mnt
  work=$(mktemp -d)
  rootfs="$work/rootfs"
  trap 'rm -rf "$work"; trap - RETURN' RETURN
  # The merged-usr hook lays out merged /usr directly, so the usrmerge tool and full Perl stay out.
  mmdebstrap --quiet --variant=essential --include="$packages" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$suite" "$rootfs" \
    "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security_mirror $suite-security main" \
    >"$work/mmdebstrap.log" 2>&1 || { cat "$work/mmdebstrap.log" >&2; return 1; }
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  if command -v strip >/dev/null; then strip --strip-debug "$rootfs/usr/local/bin/node"; fi
  chroot "$rootfs" /usr/local/bin/node -e 'if (!process.versions.node.startsWith("20.")) process.exit(1)'
  echo "nonroot:x:${nonroot_uid}:${nonroot_uid}:nonroot:/tmp:/usr/sbin/nologin" >> "$rootfs/etc/passwd"
  echo "nonroot:x:${nonroot_uid}:" >> "$rootfs/etc/group"
  rm -rf "$rootfs"/var/cache/* "$rootfs"/var/log/* "$rootfs"/var/lib/apt/lists/*

  ctr=$(bah from scratch)
  mnt=$(bah mount "$ctr")
  tar -C "$rootfs" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
  bah umount "$ctr" >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --label "org.opencontainers.image.description=Debian $suite ($packages) with Node $node_version" "$ctr"
  bah commit --quiet --rm "$ctr" "$base_image" >/dev/null
}

build_npm_layer() {
  local ctr mnt
  ctr=$(bah from --pull=never "$base_image")
  mnt=$(bah mount "$ctr")
  mkdir -p "$mnt/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$mnt/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  bah umount "$ctr" >/dev/null
  bah commit --quiet --rm "$ctr" "$build_base_image" >/dev/null
}

if image_exists "$base_image"; then
  log "base $base_image is cached"
else
  log "building base $base_image (Debian $suite, Node $node_version from $node_bin)"
  build_base
  log "base built in $(elapsed)"
fi
if ! image_exists "$build_base_image"; then
  build_npm_layer
fi
# Bases built from older inputs are never used again.
bah images --format '{{.Name}}:{{.Tag}}' | grep -E '^localhost/idpsync-(build-)?base:' |
  grep -v -x -F -e "$base_image" -e "$build_base_image" -e localhost/idpsync-base:latest -e localhost/idpsync-build-base:latest |
  xargs -r buildah --storage-driver "$STORAGE_DRIVER" rmi >/dev/null || true
bah tag "$base_image" localhost/idpsync-base:latest
bah tag "$build_base_image" localhost/idpsync-build-base:latest

step_started=$(date +%s)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)" +%Y-%m-%dT%H:%M:%SZ)
# npm in the build stages trusts the same extra CAs as npm here (a mirror or TLS-inspecting proxy).
npm_ca=${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}
secret_args=()
if [ -n "$npm_ca" ] && [ "$npm_ca" != null ] && [ -f "$npm_ca" ]; then secret_args=(--secret "id=npm-ca,src=$npm_ca"); fi
log "building $tag (storage driver $STORAGE_DRIVER)"
bah bud "${secret_args[@]}" --quiet --layers --pull=never --network host \
  --build-arg BASE_IMAGE="$base_image" --build-arg BUILD_IMAGE="$build_base_image" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
  -f Dockerfile -t "$tag" . >&2
log "built $tag in $(elapsed): $(bah images --format '{{.Size}}' "$tag")"

if [ -n "$oci_archive" ]; then
  rm -f "$oci_archive"
  bah push --quiet "$tag" "oci-archive:${oci_archive}:${tag#localhost/}"
  log "wrote $oci_archive ($(du -h "$oci_archive" | cut -f1))"
fi
echo "$tag"
