#!/usr/bin/env bash
# The lab's S3 server: Ceph's RADOS Gateway on a throwaway one-node Ceph cluster
# (one mon, one memstore OSD, one RGW) on loopback, from Debian 12's own packages.
# All state lives in $LAB_DIR/ceph, so several labs (make lab, make test) can run side by side.
#
#   lab/s3.sh up|down|status
#   lab/s3.sh rgw-kill|rgw-start      (tests: an S3 outage, the gateway alone)
#
# Environment: LAB_DIR (state directory), LAB_S3_PORT (RGW port), LAB_MON_PORT,
# LAB_S3_BYTES (memstore size: objects live in RAM).
set -euo pipefail
source "$(dirname "$0")/common.sh"

CEPH_DIR="$LAB_DIR/ceph"
export CEPH_CONF="$CEPH_DIR/ceph.conf"

rgw_answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$LAB_S3_PORT/"; }

pids() { cat "$CEPH_DIR"/run/*.pid 2>/dev/null || true; }

s3_down() {
  local pid
  for pid in $(pids); do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in $(pids); do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in $(pids); do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$CEPH_DIR"
}

write_conf() {
  local fsid=$1
  cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = 127.0.0.1:$LAB_MON_PORT
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
pid file = $CEPH_DIR/run/\$name.pid
log file = $CEPH_DIR/log/\$name.log
crash dir = $CEPH_DIR/crash
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = $LAB_S3_BYTES
osd max object name len = 256
osd max object namespace len = 64
mon max pg per osd = 1000
# radosgw defaults to "secure" mode towards the mon, which auth "none" cannot provide.
ms mon client mode = crc
[mon.a]
mon data = $CEPH_DIR/mon.a
mon addr = 127.0.0.1:$LAB_MON_PORT
[osd.0]
osd data = $CEPH_DIR/osd.0
[client.rgw.lab]
rgw frontends = beast endpoint=127.0.0.1:$LAB_S3_PORT
rgw data = $CEPH_DIR/rgw
rgw enable usage log = false
# Reclaim deleted objects within a minute (default: hours): the objects live in RAM.
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
}

ours_running() {
  local pid
  for pid in $(pids); do kill -0 "$pid" 2>/dev/null || return 1; done
  [ -n "$(pids)" ]
}

s3_up() {
  if ours_running && rgw_answers; then
    log "S3 (Ceph RGW) already up on 127.0.0.1:$LAB_S3_PORT"
  else
    rgw_answers && die "port $LAB_S3_PORT answers but is not this lab's RGW ($CEPH_DIR); set LAB_S3_PORT"
    s3_down
    mkdir -p "$CEPH_DIR"/{run,log,crash,mon.a,osd.0,rgw}
    local fsid
    fsid=$(uuidgen)
    write_conf "$fsid"
    log "starting Ceph (mon, memstore OSD, RGW) in $CEPH_DIR"
    monmaptool --create --add a "127.0.0.1:$LAB_MON_PORT" --fsid "$fsid" "$CEPH_DIR/monmap" >/dev/null
    ceph-mon --id a --mkfs --monmap "$CEPH_DIR/monmap"
    ceph-mon --id a
    ceph osd create >/dev/null
    ceph-osd -i 0 --mkfs 2>/dev/null
    ceph-osd -i 0 2>>"$CEPH_DIR/log/osd.0.stderr"
    radosgw -n client.rgw.lab
    local i
    for i in $(seq 120); do
      rgw_answers && break
      [ "$i" = 120 ] && die "RGW did not answer on 127.0.0.1:$LAB_S3_PORT; see $CEPH_DIR/log"
      sleep 0.5
    done
  fi
  # The lab's user, with the throwaway keys that inventory/local and .lab/env carry.
  if ! radosgw-admin user info --uid=tasky-lab >/dev/null 2>&1; then
    radosgw-admin user create --uid=tasky-lab --display-name="tasky lab" \
      --access-key="$LAB_ACCESS_KEY" --secret-key="$LAB_SECRET_KEY" >/dev/null
  fi
  # The lab hosts' user: owns no bucket, has only what bucket policies grant it.
  if ! radosgw-admin user info --uid=tasky-lab-host >/dev/null 2>&1; then
    radosgw-admin user create --uid=tasky-lab-host --display-name="tasky lab hosts" --max-buckets=0 \
      --access-key="$LAB_HOST_ACCESS_KEY" --secret-key="$LAB_HOST_SECRET_KEY" >/dev/null
  fi
  log "S3 endpoint: http://127.0.0.1:$LAB_S3_PORT"
}

# An S3 outage for the tests: the gateway alone killed with SIGKILL (the OSD keeps every
# object), then started again.
rgw_kill() {
  local pid
  pid=$(cat "$CEPH_DIR/run/client.rgw.lab.pid" 2>/dev/null) || die "no RGW pid file in $CEPH_DIR/run"
  kill -9 "$pid"
  log "RGW (pid $pid) killed"
}

rgw_start() {
  radosgw -n client.rgw.lab
  local i
  for i in $(seq 120); do
    rgw_answers && { log "RGW answers again on 127.0.0.1:$LAB_S3_PORT"; return; }
    sleep 0.5
  done
  die "RGW did not answer on 127.0.0.1:$LAB_S3_PORT; see $CEPH_DIR/log"
}

case "${1:-}" in
  up) s3_up ;;
  down) s3_down ;;
  status) ours_running && rgw_answers && echo "up: http://127.0.0.1:$LAB_S3_PORT" || { echo down; exit 1; } ;;
  rgw-kill) rgw_kill ;;
  rgw-start) rgw_start ;;
  *) die "usage: $0 up|down|status|rgw-kill|rgw-start" ;;
esac
