#!/usr/bin/env bash
# The lab's database host: a Debian 12 systemd container under podman, built offline with
# debootstrap from Debian's mirror (no registry is reachable, so images are never pulled).
#
#   lab/host.sh image      build localhost/tasky-lab-debian12:<recipe hash> unless it exists
#   lab/host.sh up|down    start or remove the container $LAB_NAME-mongodb1
#   lab/host.sh name       print the container name
set -euo pipefail
source "$(dirname "$0")/common.sh"

# Packages baked into the image. The roles install what they need themselves; having their
# packages here already only makes each fresh Molecule host converge faster.
IMAGE_PACKAGES=python3,python3-apt,python3-boto3,python3-pymongo,python3-venv,systemd,systemd-sysv,cron,logrotate,ca-certificates,sudo,curl,gnupg,procps,openssh-client
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bump IMAGE_RECIPE when the way the image is built changes; the tag then changes and the
# next `make lab` or `make test` builds a new image instead of reusing the old one.
IMAGE_RECIPE=1
RECIPE_HASH=$(printf '%s\n' "$IMAGE_PACKAGES" "$IMAGE_RECIPE" | sha256sum | cut -c1-12)
LAB_IMAGE=${LAB_IMAGE:-localhost/tasky-lab-debian12:$RECIPE_HASH}
HOST_NAME=${LAB_HOST_NAME:-$LAB_NAME-mongodb1}

build_image() {
  if podman image exists "$LAB_IMAGE"; then
    log "image $LAB_IMAGE exists, reusing it"
    return
  fi
  local rootfs
  rootfs=$(mktemp -d /var/tmp/tasky-lab-rootfs.XXXXXX)
  log "building $LAB_IMAGE with debootstrap (about a minute)"
  debootstrap --variant=minbase --include="$IMAGE_PACKAGES" bookworm "$rootfs" "$DEBIAN_MIRROR" \
    >"$LAB_DIR/debootstrap.log" 2>&1 || die "debootstrap failed; see $LAB_DIR/debootstrap.log"
  # Clean apt lists and caches: the image stays small and the roles refresh what they need.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --quiet - "$LAB_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "image $LAB_IMAGE built"
}

host_up() {
  build_image
  if [ "$(podman container inspect -f '{{.State.Running}}' "$HOST_NAME" 2>/dev/null)" = true ]; then
    log "host $HOST_NAME already running"
    return
  fi
  podman rm -f "$HOST_NAME" >/dev/null 2>&1 || true
  # Host networking: the container reaches the lab's S3 on 127.0.0.1. Ulimits stay under the
  # host's hard limits, or the start fails with "setrlimit ... Operation not permitted".
  podman run -d --name "$HOST_NAME" --hostname "$HOST_NAME" --network host \
    --systemd always --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    "$LAB_IMAGE" /sbin/init >/dev/null
  local i
  for i in $(seq 60); do
    state=$(podman exec "$HOST_NAME" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) break ;; esac
    [ "$i" = 60 ] && die "systemd in $HOST_NAME did not come up (state: $state)"
    sleep 0.5
  done
  log "host $HOST_NAME up (systemd $state)"
}

case "${1:-}" in
  image) mkdir -p "$LAB_DIR" && build_image && echo "$LAB_IMAGE" ;;
  up) mkdir -p "$LAB_DIR" && host_up ;;
  down) podman rm -f "$HOST_NAME" >/dev/null 2>&1 || true ;;
  name) echo "$HOST_NAME" ;;
  *) die "usage: $0 image|up|down|name" ;;
esac
