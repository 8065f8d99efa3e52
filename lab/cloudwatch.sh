#!/usr/bin/env bash
# The lab's CloudWatch API on loopback: moto's server (CloudWatch metrics and alarms, Logs).
# RGW serves S3 only; moto is fine for these APIs (docs/lab.md).
#
#   lab/cloudwatch.sh up|down|status      (port: LAB_CW_PORT)
set -euo pipefail
source "$(dirname "$0")/common.sh"

PID_FILE="$LAB_DIR/cloudwatch.pid"
answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$LAB_CW_PORT/moto-api/"; }
ours_running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

cw_down() {
  if ours_running; then kill "$(cat "$PID_FILE")"; fi
  rm -f "$PID_FILE"
}

cw_up() {
  if ours_running && answers; then
    log "CloudWatch (moto) already up on 127.0.0.1:$LAB_CW_PORT"
    return
  fi
  answers && die "port $LAB_CW_PORT answers but is not this lab's moto server; set LAB_CW_PORT"
  mkdir -p "$LAB_DIR"
  # AWS's managed policies (AmazonSSMManagedInstanceCore, ...): moto attaches only those it knows.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup "$LAB_ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$LAB_CW_PORT" >"$LAB_DIR/cloudwatch.log" 2>&1 &
  echo $! >"$PID_FILE"
  for i in $(seq 60); do
    answers && break
    [ "$i" = 60 ] && die "moto server did not answer on 127.0.0.1:$LAB_CW_PORT; see $LAB_DIR/cloudwatch.log"
    sleep 0.25
  done
  log "CloudWatch endpoint: http://127.0.0.1:$LAB_CW_PORT"
}

case "${1:-}" in
  up) cw_up ;;
  down) cw_down ;;
  status) ours_running && answers && echo "up: http://127.0.0.1:$LAB_CW_PORT" || { echo down; exit 1; } ;;
  *) die "usage: $0 up|down|status" ;;
esac
