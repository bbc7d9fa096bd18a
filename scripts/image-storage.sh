# shellcheck shell=bash
# Sourced by build-image.sh and test-image.sh: the containers-storage driver both use. overlay where
# the kernel mounts it here; vfs otherwise (works anywhere, but copies every layer, several times slower).
# Set STORAGE_DRIVER to choose. Builds always use chroot isolation, which needs no user namespaces.
if [ -z "${STORAGE_DRIVER:-}" ]; then
  mkdir -p /var/lib/containers
  overlay_probe=$(mktemp -d -p /var/lib/containers)
  mkdir "$overlay_probe"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$overlay_probe/lower,upperdir=$overlay_probe/upper,workdir=$overlay_probe/work" "$overlay_probe/merged" 2>/dev/null; then
    umount "$overlay_probe/merged"
    STORAGE_DRIVER=overlay
  else
    STORAGE_DRIVER=vfs
  fi
  rm -rf "$overlay_probe"
fi
export STORAGE_DRIVER BUILDAH_ISOLATION=chroot
bah() { buildah --storage-driver "$STORAGE_DRIVER" "$@"; }
