#!/usr/bin/env bash
# pytest's database server on the control machine: the lab's FerretDB build (lab/tools.sh), a
# MongoDB-wire server with SQLite files under $LAB_DIR/ferretdb, authentication on, on
# 127.0.0.1:$LAB_FERRETDB_PORT. Left running between warm test runs, like the lab's S3.
# LAB ONLY: FerretDB, not mongod (docs/lab.md, "MongoDB in the lab", lists what differs).
#
#   lab/ferretdb.sh up|down|status
#
# FerretDB has no localhost exception: its first user is the setup user it creates on its
# first start ($LAB_FERRETDB_SETUP_USER in admin, with the throwaway $LAB_FERRETDB_SETUP_PASSWORD
# passed in its environment, never in argv). The tests log in as that user to make theirs.
set -euo pipefail
source "$(dirname "$0")/common.sh"

FDB_DIR=$LAB_DIR/ferretdb
PID_FILE=$FDB_DIR/ferretdb.pid
FERRETDB=$("$(dirname "$0")/tools.sh" bin)/ferretdb

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$LAB_FERRETDB_PORT" 2>/dev/null; }
ours_running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

fdb_down() {
  if ours_running; then
    local pid
    pid=$(cat "$PID_FILE")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PID_FILE"
}

fdb_up() {
  if ours_running && answers; then
    log "FerretDB already up on 127.0.0.1:$LAB_FERRETDB_PORT"
    return
  fi
  answers && die "port $LAB_FERRETDB_PORT answers but is not this lab's FerretDB ($FDB_DIR); set LAB_FERRETDB_PORT"
  [ -x "$FERRETDB" ] || die "no FerretDB build at $FERRETDB; run lab/tools.sh build"
  fdb_down
  mkdir -p "$FDB_DIR/data" "$FDB_DIR/state"
  chmod 0700 "$FDB_DIR"
  # --debug-addr=-: no debug HTTP listener (default 127.0.0.1:8088, where two labs would clash).
  (
    umask 077
    FERRETDB_SETUP_PASSWORD=$LAB_FERRETDB_SETUP_PASSWORD nohup "$FERRETDB" --handler=sqlite \
      --sqlite-url="file:$FDB_DIR/data/" --state-dir="$FDB_DIR/state" \
      --listen-addr="127.0.0.1:$LAB_FERRETDB_PORT" --debug-addr=- --telemetry=disable \
      --test-enable-new-auth --setup-database=admin --setup-username="$LAB_FERRETDB_SETUP_USER" \
      >"$FDB_DIR/ferretdb.log" 2>&1 &
    echo $! >"$PID_FILE"
  )
  for i in $(seq 100); do
    answers && break
    ours_running || die "FerretDB exited; see $FDB_DIR/ferretdb.log"
    [ "$i" = 100 ] && die "FerretDB did not answer on 127.0.0.1:$LAB_FERRETDB_PORT; see $FDB_DIR/ferretdb.log"
    sleep 0.1
  done
  log "FerretDB $("$FERRETDB" --version | sed -n 's/^version: //p') (LAB ONLY, not mongod) on 127.0.0.1:$LAB_FERRETDB_PORT"
}

case "${1:-}" in
  up) fdb_up ;;
  down) fdb_down ;;
  status) ours_running && answers && echo "up: 127.0.0.1:$LAB_FERRETDB_PORT" || { echo down; exit 1; } ;;
  *) die "usage: $0 up|down|status" ;;
esac
