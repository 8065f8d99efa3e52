#!/usr/bin/env bash
# What `make bench` needs beyond the lab: Debian's pigz (a peer method's compressor) and the AWS
# CLI from PyPI, pinned in bench/requirements.txt, in its own venv (.lab/bench-venv; apart from
# .venv, whose boto3/botocore pins the CLI's own bundled botocore would fight).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/lab/common.sh"

if ! dpkg-query -W -f '${Status}' pigz 2>/dev/null | grep -q 'install ok installed'; then
  log "installing Debian's pigz"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pigz >/dev/null
fi
venv=$root/.lab/bench-venv
stamp=$venv/.requirements.sha256
want=$(sha256sum "$root/bench/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing the AWS CLI into .lab/bench-venv (bench/requirements.txt)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/bench/requirements.txt"
  echo "$want" >"$stamp"
fi
