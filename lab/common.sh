# Shared settings of the lab scripts. Every value can be overridden from the environment, so
# `make lab` (name tasky-lab) and `make test` (name tasky-test) run side by side without clashing.
# shellcheck shell=bash
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_NAME=${LAB_NAME:-tasky-lab}
LAB_DIR=${LAB_DIR:-$LAB_ROOT/.lab/$LAB_NAME}
LAB_S3_PORT=${LAB_S3_PORT:-7480}
LAB_MON_PORT=${LAB_MON_PORT:-16789}
LAB_CW_PORT=${LAB_CW_PORT:-7481}
LAB_S3_BYTES=${LAB_S3_BYTES:-2147483648}
# The lab host's database port (FerretDB on the host network: inventory/local's mongodb_port),
# and the port of the control machine's own FerretDB that pytest uses (lab/ferretdb.sh).
LAB_MONGODB_PORT=${LAB_MONGODB_PORT:-27017}
LAB_FERRETDB_PORT=${LAB_FERRETDB_PORT:-27190}
# Throwaway credentials of the offline lab's S3 user; they protect nothing outside this machine.
LAB_ACCESS_KEY=${LAB_ACCESS_KEY:-TASKYLABACCESSKEY000}
LAB_SECRET_KEY=${LAB_SECRET_KEY:-tasky-lab-throwaway-secret-key-0000000000}
# The lab hosts' own S3 user: no rights of its own, only what the bucket policy grants it (the
# backup_bucket role's backup_bucket_host_actions), as an instance role would in production.
LAB_HOST_ACCESS_KEY=${LAB_HOST_ACCESS_KEY:-TASKYLABHOSTKEY00000}
LAB_HOST_SECRET_KEY=${LAB_HOST_SECRET_KEY:-tasky-lab-host-throwaway-secret-key-00000}
LAB_REGION=${LAB_REGION:-us-east-1}
# Throwaway password of the setup (bootstrap) user of pytest's FerretDB on 127.0.0.1.
LAB_FERRETDB_SETUP_USER=${LAB_FERRETDB_SETUP_USER:-lab-setup}
LAB_FERRETDB_SETUP_PASSWORD=${LAB_FERRETDB_SETUP_PASSWORD:-tasky-lab-ferretdb-setup-throwaway}
# podman: crun cannot run systemd containers on this kernel's hybrid cgroups; runc can.
export CONTAINERS_CONF=${CONTAINERS_CONF:-$LAB_ROOT/lab/containers.conf}

log() { printf '[lab %s] %s\n' "$LAB_NAME" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Installs the Debian packages named that are not installed yet.
apt_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# venv_from_requirements VENV REQUIREMENTS: a venv holding the pinned packages, reinstalled only
# when the requirements file changed (its sha256 is kept in the venv).
venv_from_requirements() {
  local venv=$1 requirements=$2 stamp want
  stamp=$venv/.requirements.sha256
  want=$(sha256sum "$requirements" | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  log "installing Python packages into $venv ($requirements)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$requirements"
  echo "$want" >"$stamp"
}
