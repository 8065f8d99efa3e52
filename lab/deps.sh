#!/usr/bin/env bash
# Installs what the lab and the tests need on a fresh Debian 12 machine, and nothing twice:
# Debian packages (podman, runc, debootstrap, Ceph) and .venv from requirements.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/lab/common.sh"

# `lab/deps.sh venv`: the Python packages only (make unit).
if [ "${1:-}" != venv ]; then
  # chromium: the browser test of the catalogue page (headless; Debian's package, never a downloaded browser);
  # age and ssh-keygen: the team's stock tools the tests decrypt and verify with.
  DEB_PACKAGES=(podman runc debootstrap ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl chromium age openssh-client)
  apt_install_missing "${DEB_PACKAGES[@]}"
fi
venv_from_requirements "$root/.venv" "$root/requirements.txt"
