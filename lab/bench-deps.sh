#!/usr/bin/env bash
# What `make bench` needs beyond the lab: Debian's pigz (a peer method's compressor) and the AWS
# CLI from PyPI, pinned in bench/requirements.txt, in its own venv (.lab/bench-venv; apart from
# .venv, whose boto3/botocore pins the CLI's own bundled botocore would fight).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/lab/common.sh"

apt_install_missing pigz
venv_from_requirements "$root/.lab/bench-venv" "$root/bench/requirements.txt"
