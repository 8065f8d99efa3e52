#!/usr/bin/env bash
# Installs what the lab and the tests need on a fresh Debian 12 machine, and nothing twice:
# Debian packages (podman, runc, debootstrap, Ceph) and .venv from requirements.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/lab/common.sh"

# chromium: the browser test of the catalogue page (headless; Debian's package, never a downloaded browser).
DEB_PACKAGES=(podman runc debootstrap ceph-mon ceph-osd radosgw ceph-common uuid-runtime curl chromium)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv=$root/.venv
stamp=$venv/.requirements.sha256
want=$(sha256sum "$root/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages into .venv (requirements.txt)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/requirements.txt"
  echo "$want" >"$stamp"
fi
