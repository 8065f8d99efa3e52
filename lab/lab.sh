#!/usr/bin/env bash
# The whole offline lab: S3 (lab/s3.sh), CloudWatch (lab/cloudwatch.sh) and the database host
# (lab/host.sh; its FerretDB and MongoDB tools come from lab/tools.sh, lab/playbooks/mongodb-lab.yml).
#
#   lab/lab.sh up      start both (reusing what is built or running) and write $LAB_DIR/env
#   lab/lab.sh down    stop both
#   lab/lab.sh env     print the env file's path
#   lab/lab.sh info    print what the lab serves and how to use it
set -euo pipefail
here=$(dirname "$0")
source "$here/common.sh"
# make lab writes .lab/env, as the README says; other labs keep theirs in their own folder.
LAB_ENV_FILE=${LAB_ENV_FILE:-$LAB_DIR/env}

write_env() {
  mkdir -p "$(dirname "$LAB_ENV_FILE")"
  cat >"$LAB_ENV_FILE" <<ENV
# The offline lab's S3 (throwaway credentials). Use: . $LAB_ENV_FILE
export AWS_ENDPOINT_URL=http://127.0.0.1:$LAB_S3_PORT
export AWS_ACCESS_KEY_ID=$LAB_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$LAB_SECRET_KEY
export AWS_DEFAULT_REGION=$LAB_REGION
export TASKY_BACKUP_BUCKET=${TASKY_BACKUP_BUCKET:-tasky-lab-backups}
ENV
}

case "${1:-}" in
  up)
    "$here/s3.sh" up
    "$here/cloudwatch.sh" up
    "$here/host.sh" up
    write_env
    ;;
  down)
    "$here/host.sh" down
    "$here/ferretdb.sh" down
    "$here/cloudwatch.sh" down
    "$here/s3.sh" down
    ;;
  env) echo "$LAB_ENV_FILE" ;;
  info)
    bucket=${TASKY_BACKUP_BUCKET:-tasky-lab-backups}
    s3=http://127.0.0.1:$LAB_S3_PORT
    host=$("$here/host.sh" name)
    # What the lab host really runs: the binaries' own version strings, and what the server
    # answers (buildInfo needs no login).
    tools=$(podman exec "$host" mongodump --version 2>/dev/null | sed -n 1p)
    server=$(podman exec "$host" sh -c 'if [ -x /usr/bin/ferretdb ]; then
      echo "FerretDB $(ferretdb --version | sed -n "s/^version: //p") (LAB ONLY, not mongod)"
      else mongod --version | sed -n 1p; fi' 2>/dev/null)
    wire=$("$LAB_ROOT/.venv/bin/python" -c 'import sys, pymongo
print(pymongo.MongoClient(port=int(sys.argv[1]), directConnection=True, serverSelectionTimeoutMS=3000).admin.command("buildInfo")["version"])' \
      "$LAB_MONGODB_PORT" 2>/dev/null || echo "no answer")
    cat <<INFO

The lab is up.
  S3 endpoint   $s3   (credentials: . $LAB_ENV_FILE)
  bucket        $bucket
  public        $s3/$bucket/?list-type=2&prefix=backups/
                $s3/$bucket/backups/latest.tar.gz
  CloudWatch    http://127.0.0.1:$LAB_CW_PORT   (moto)
  MongoDB host  $host   (podman exec -it $host bash)
  database      ${server:-unknown} on 127.0.0.1:$LAB_MONGODB_PORT, answers as MongoDB $wire
  tools         ${tools:-unknown} (MongoDB Database Tools, built from their Go module)
  backup now    . .venv/bin/activate && ansible mongodb -b -m tasky_backup
  stop          make lab-down
INFO
    ;;
  *) die "usage: $0 up|down|env|info" ;;
esac
