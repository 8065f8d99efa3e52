#!/usr/bin/env bash
# The lab's real MongoDB parts, built from their own Go modules through the Go module proxy
# (no registry reachable here ships MongoDB's binaries):
#   mongodump, mongorestore  MongoDB's Database Tools (module github.com/mongodb/mongo-tools)
#   ferretdb                 FerretDB, a MongoDB-wire server on SQLite (github.com/FerretDB/FerretDB),
#                            with one lab patch (see patch_ferretdb)
# Built once per pinned version into .lab/tools/<name>-<version>/ and reused; .lab/tools/bin/
# links to the current ones. Static binaries (CGO_ENABLED=0): they run on the lab host as is.
#
#   lab/tools.sh build      build what is missing, reuse what is built (prints which); also
#                           fetches the pymongo wheels the lab host's user tasks install
#   lab/tools.sh bin        print the directory with mongodump, mongorestore, ferretdb
#   lab/tools.sh versions   print the versions the binaries report
set -euo pipefail
source "$(dirname "$0")/common.sh"

# ---- The pins: versions and module hashes, all in this one place. ----------------------------
# mongo-tools tags have no "v", so Go knows its releases by pseudo-version: 100.11.0 is commit
# b8a566a7f38f. The proxy refuses (403) most other mongo-tools versions; 100.10.0 and 100.11.0
# are served. sum.golang.org has no entry for it (404), so the checksum database is skipped for
# this module and its hash is checked here instead: a different hash stops the build.
MONGO_TOOLS_MODULE=github.com/mongodb/mongo-tools
MONGO_TOOLS_VERSION=100.11.0
MONGO_TOOLS_PSEUDO=v0.0.0-20250131183507-b8a566a7f38f
MONGO_TOOLS_COMMIT=b8a566a7f38f
MONGO_TOOLS_SUM=h1:Xbo8OTSAov884rc8pIY/M00S4T4MYi5Dq2JRTeCUIFY=
FERRETDB_MODULE=github.com/FerretDB/FerretDB
FERRETDB_VERSION=v1.24.2
FERRETDB_SUM=h1:trrUU0LbmusMbyubhPS1IELncvrIwKrsRT2LW1UUWCw=
# Bump when the lab's FerretDB recipe (its patch, flags) changes: the cache key changes with it.
FERRETDB_LAB_REVISION=lab1
GO_MIN_MINOR=24 # FerretDB 1.24's go.mod asks for go 1.24
# The Python packages the roles pip-install on the lab host (the mongodb role's pymongo, the
# mongodb_backup role's pinned engine libraries and theirs): the lab host gets them as wheels from here,
# because PyPI's TLS does not verify from inside the lab container on these machines.
host_python_packages() {
  "$LAB_ROOT/.venv/bin/python" - "$LAB_ROOT" <<'PY'
import sys, yaml
root = sys.argv[1]
mongodb = yaml.safe_load(open(f"{root}/roles/mongodb/defaults/main.yml"))
backup = yaml.safe_load(open(f"{root}/roles/mongodb_backup/defaults/main.yml"))
pins = {f"pymongo=={mongodb['mongodb_pymongo_version']}", *backup["mongodb_backup_python_packages"]}
print("\n".join(sorted(pins | set(backup["mongodb_backup_python_dependencies"]))))
PY
}
# ------------------------------------------------------------------------------------------------

TOOLS_DIR=${LAB_TOOLS_DIR:-$LAB_ROOT/.lab/tools}
MONGO_TOOLS_OUT=$TOOLS_DIR/mongo-tools-$MONGO_TOOLS_VERSION
HOST_PACKAGES=$(host_python_packages) || { echo "cannot read the roles' Python pins" >&2; exit 1; }
WHEELS_OUT=$TOOLS_DIR/wheels-$(printf '%s\n' "$HOST_PACKAGES" | sha256sum | cut -c1-12)
FERRETDB_OUT=$TOOLS_DIR/ferretdb-$FERRETDB_VERSION-$FERRETDB_LAB_REVISION
BIN_DIR=$TOOLS_DIR/bin

# Go's own settings for these builds: the local toolchain only (never a download), static
# binaries, no VCS stamping (the sources are module zips, not checkouts).
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
export GONOSUMDB=$MONGO_TOOLS_MODULE${GONOSUMDB:+,$GONOSUMDB}

check_go() {
  command -v go >/dev/null ||
    die "go is not on PATH. The lab builds mongodump, mongorestore and FerretDB with Go >= 1.$GO_MIN_MINOR (these machines have Go 1.26 in /usr/local/go/bin)"
  local v
  v=$(go env GOVERSION)
  [[ $v =~ ^go1\.([0-9]+) ]] || die "cannot read Go's version ($v)"
  [ "${BASH_REMATCH[1]}" -ge "$GO_MIN_MINOR" ] || die "Go $v is too old: the lab needs Go >= 1.$GO_MIN_MINOR"
}

# Downloads module@version into Go's module cache, checks its hash against the pin, prints its dir.
module_dir() {
  local module=$1 version=$2 want=$3 json sum dir
  json=$(cd /tmp && go mod download -json "$module@$version") ||
    die "go mod download $module@$version failed: $json"
  sum=$(sed -n 's/^\t"Sum": "\(.*\)",$/\1/p' <<<"$json")
  dir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$json")
  [ "$sum" = "$want" ] || die "$module@$version has hash '$sum', pinned '$want': refusing to build it"
  [ -d "$dir" ] || die "go mod download $module@$version gave no directory"
  echo "$dir"
}

build_mongo_tools() {
  local src out=$MONGO_TOOLS_OUT tool
  src=$(module_dir "$MONGO_TOOLS_MODULE" "$MONGO_TOOLS_PSEUDO" "$MONGO_TOOLS_SUM")
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  # The module zip's vendor/ is incomplete: build from the module graph (-mod=mod). The version
  # string is set at link time, as MongoDB's own build script does (buildscript/build.go).
  for tool in mongodump mongorestore; do
    (cd "$src" && go build -mod=mod -trimpath \
      -ldflags "-X main.VersionStr=$MONGO_TOOLS_VERSION -X main.GitCommit=$MONGO_TOOLS_COMMIT" \
      -o "$out.tmp/$tool" "./$tool/main")
  done
  [ "$("$out.tmp/mongodump" --version | sed -n 1p)" = "mongodump version: $MONGO_TOOLS_VERSION" ] ||
    die "the built mongodump does not report version $MONGO_TOOLS_VERSION"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

# The one source change of the lab's FerretDB. mongorestore 100.x adds the index option "ns" to
# every createIndexes it sends (mongorestore/metadata.go); MongoDB accepts it, FerretDB 1.24
# answers 'Index option "ns" is unknown' and the restore of any collection with a secondary
# index fails. The patch makes FerretDB ignore "ns" as it ignores the deprecated "background".
patch_ferretdb() {
  local file=$1/internal/handler/msg_createindexes.go
  grep -q '^		case "background":$' "$file" ||
    die "FerretDB patch: the line 'case \"background\":' is not in $file; the patch must be redone for $FERRETDB_VERSION"
  sed -i 's/^\t\tcase "background":$/\t\tcase "background", "ns": \/\/ tasky lab patch: mongorestore sends "ns"/' "$file"
  grep -q '^		case "background", "ns":' "$file" || die "FerretDB patch did not apply to $file"
}

build_ferretdb() {
  local src work=$TOOLS_DIR/src/ferretdb-$FERRETDB_VERSION out=$FERRETDB_OUT
  src=$(module_dir "$FERRETDB_MODULE" "$FERRETDB_VERSION" "$FERRETDB_SUM")
  # The module zip lacks the generated build/version/version.txt that FerretDB's own build
  # writes (a plain `go install` builds a binary that panics at start): build from a writable
  # copy with those files written and the lab patch applied.
  rm -rf "$work" "$out.tmp" && mkdir -p "$(dirname "$work")" "$out.tmp"
  cp -r "$src" "$work" && chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" >"$work/build/version/version.txt"
  echo "tasky-lab" >"$work/build/version/package.txt"
  patch_ferretdb "$work"
  (cd "$work" && go build -trimpath -o "$out.tmp/ferretdb" ./cmd/ferretdb)
  [ "$("$out.tmp/ferretdb" --version | sed -n 's/^version: //p')" = "$FERRETDB_VERSION" ] ||
    die "the built ferretdb does not report version $FERRETDB_VERSION"
  rm -rf "$out" "$work" && mv "$out.tmp" "$out"
  rmdir "$(dirname "$work")" 2>/dev/null || true
}

# Those packages and their dependencies as wheels for the lab host's Python (Debian 12: CPython
# 3.11, like the control machine's .venv), fetched with pip from PyPI on the control machine.
fetch_wheels() {
  if [ -f "$WHEELS_OUT/.complete" ]; then
    log "reusing the lab host's wheels ($WHEELS_OUT)"
    return
  fi
  log "fetching wheels for the lab host: $(echo $HOST_PACKAGES)"
  rm -rf "$WHEELS_OUT" && mkdir -p "$WHEELS_OUT"
  # shellcheck disable=SC2086 # one requirement a word
  "$LAB_ROOT/.venv/bin/pip" download -q --only-binary=:all: --python-version 3.11 \
    --dest "$WHEELS_OUT" $HOST_PACKAGES || die "pip download of $(echo $HOST_PACKAGES) failed"
  touch "$WHEELS_OUT/.complete"
}

link_bin() {
  mkdir -p "$BIN_DIR"
  ln -sfn "../$(basename "$MONGO_TOOLS_OUT")/mongodump" "$BIN_DIR/mongodump"
  ln -sfn "../$(basename "$MONGO_TOOLS_OUT")/mongorestore" "$BIN_DIR/mongorestore"
  ln -sfn "../$(basename "$FERRETDB_OUT")/ferretdb" "$BIN_DIR/ferretdb"
  ln -sfn "$(basename "$WHEELS_OUT")" "$TOOLS_DIR/wheels"
}

build() {
  mkdir -p "$TOOLS_DIR"
  # One build at a time per checkout (make pytest and make molecule may start together).
  exec 9>"$TOOLS_DIR/.lock"
  flock 9
  local jobs=() started=$SECONDS
  if [ -x "$MONGO_TOOLS_OUT/mongodump" ] && [ -x "$MONGO_TOOLS_OUT/mongorestore" ]; then
    log "reusing mongodump/mongorestore $MONGO_TOOLS_VERSION ($MONGO_TOOLS_OUT)"
  else
    check_go
    log "building mongodump/mongorestore $MONGO_TOOLS_VERSION from $MONGO_TOOLS_MODULE@$MONGO_TOOLS_PSEUDO"
    build_mongo_tools >"$TOOLS_DIR/build-mongo-tools.log" 2>&1 &
    jobs+=("$!:mongo-tools")
  fi
  if [ -x "$FERRETDB_OUT/ferretdb" ]; then
    log "reusing FerretDB $FERRETDB_VERSION ($FERRETDB_OUT)"
  else
    check_go
    log "building FerretDB $FERRETDB_VERSION (lab patch $FERRETDB_LAB_REVISION) from $FERRETDB_MODULE"
    build_ferretdb >"$TOOLS_DIR/build-ferretdb.log" 2>&1 &
    jobs+=("$!:ferretdb")
  fi
  # Both builds at once: their module downloads overlap, and the compiler's parallelism fills
  # the cores either way.
  local job failed=0
  for job in "${jobs[@]}"; do
    if ! wait "${job%%:*}"; then
      log "building ${job#*:} FAILED; the end of $TOOLS_DIR/build-${job#*:}.log:"
      tail -n 20 "$TOOLS_DIR/build-${job#*:}.log" >&2
      failed=1
    fi
  done
  [ "$failed" = 0 ] || die "the lab's MongoDB tools could not be built"
  [ ${#jobs[@]} = 0 ] || log "built in $((SECONDS - started)) s"
  fetch_wheels
  link_bin
}

versions() {
  printf 'mongodump     %s\n' "$("$BIN_DIR/mongodump" --version | sed -n 1p)"
  printf 'mongorestore  %s\n' "$("$BIN_DIR/mongorestore" --version | sed -n 1p)"
  printf 'FerretDB      %s (lab patch %s)\n' "$("$BIN_DIR/ferretdb" --version | sed -n 's/^version: //p')" "$FERRETDB_LAB_REVISION"
}

case "${1:-}" in
  build) build ;;
  bin) echo "$BIN_DIR" ;;
  versions) versions ;;
  *) die "usage: $0 build|bin|versions" ;;
esac
