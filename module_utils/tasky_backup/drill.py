"""The restore drill: proof that a backup restores, not a hope that it would.

One drill (`python3 -m tasky_backup drill`, `backup.sh --drill`, the module's state=drill, and an
optional weekly cron entry), under the engine's lock so it never overlaps a backup:

1. downloads the backup (default latest) into a root-only scratch directory and checks its
   sha256 and size against the object's metadata (restore.download_checked), reads the record of
   what its dump held at dump time (the sidecar, catalogue.py) and unpacks it (a tar.gz) or
   reads it through (a mongodump archive, which mongorestore then reads itself);
2. restores every database of the archive into a scratch database on the same server,
   `<db>` -> `drill_<db>`, with the real mongorestore (--nsInclude/--nsFrom/--nsTo, so nothing
   lands in a real namespace; an oplog.bson is never replayed), as the drill user;
3. compares every collection's document count and index names with the record, and reads them
   as the backup user (whose `backup` role may read everything);
4. drops the scratch databases, collection by collection (the built-in `restore` role grants
   dropCollection, not dropDatabase; a database with no collection left is gone), whatever
   happened before, and says whether they are gone;
5. reports ok or every difference, and the time the recovery took (download + unpack +
   mongorestore): a measured recovery time. The job around it (drill_job.py) writes the result to
   the state file (status-check.sh shows it) and to CloudWatch (RestoreDrillSuccess,
   RestoreDrillDuration).

Scratch databases never collide with real ones: each one the drill makes first gets a marker
collection naming the drill. A `drill_<db>` that exists without that marker is not the drill's:
the drill refuses to start, naming it, and touches nothing. One with the marker was left by a
drill that was killed (SIGKILL, a reboot): holding the lock proves no drill is running, so it is
dropped first.
"""

import logging
import os
import shutil
import socket
import tempfile
import time
import uuid

from .aws import s3_client
from .backup import remove_leftovers
from .catalogue import read_sidecar
from .clock import utc_now_text
from .config import PRIVATE_DATABASES, extension_of
from .dump import check_free_space, run_mongorestore
from .errors import BackupError, reported_as
from .files import private_dir
from .lock import Lock
from .logs import LOG
from .mongo import connect, credentials_password
from .restore import download_checked, head_of_backup, room_to_restore
from .store import format_of, resolve_key
from .verify import read_mongodump_archive

DRILL_PREFIX = "drill_"
# In every scratch database the drill makes, first: the proof that the database is the drill's.
MARKER = "tasky_restore_drill"
# MongoDB database names are shorter than 64 bytes.
MAX_DATABASE_NAME = 63


def scratch_name(database):
    return f"{DRILL_PREFIX}{database}"


def drill_login(config):
    """(user, mongorestore --config file) of the drill user, who may write; refused when the
    config names none: the backup user's `backup` role cannot restore on MongoDB."""
    user, secret = config["drill_user"], config["drill_config"]
    if not user or not secret:
        raise BackupError(
            "no drill login configured (drill_user, drill_config): the drill restores as a user allowed to "
            "write (the mongodb_backup role writes it with mongodb_backup_drill_enabled)"
        )
    return user, secret


@reported_as("drill")
def drill(config, key=None, client=None):
    """One restore drill of a backup; returns its result (status ok or failed, or skipped on a
    replica set member that is not the primary); raises BackupError when it cannot run at all
    (Locked when a backup or another drill holds the lock)."""
    user, secret = drill_login(config)
    client = client or s3_client(config)
    key = resolve_key(config, key)
    started = time.monotonic()
    with Lock(config["lock_file"]):
        remove_leftovers(config["work_dir"])  # holding the lock proves no run is using them
        with connect(config) as reader, connect(config, user, credentials_password(secret)) as writer:
            primary, reason = writable_here(reader)
            if not primary:
                LOG.info("restore drill skipped: %s", reason)
                return {
                    "status": "skipped",
                    "reason": reason,
                    "key": key,
                    "host": socket.gethostname(),
                    "finished_at": utc_now_text(),
                }
            check_room(config, client, key)
            scratch = tempfile.mkdtemp(prefix="restore-drill-", dir=private_dir(config["work_dir"]))
            try:
                result = _drill(config, client, key, scratch, reader, writer, (user, secret))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    result["duration_s"] = round(time.monotonic() - started, 3)
    return result


def check_room(config, client, key):
    """Refuses a drill that would leave the work directory's file system short (the nightly
    check's min_free_percent): the download (and a tar.gz's unpacked dump), and the scratch
    databases, counted here too since the work directory is usually on the database's volume."""
    head = head_of_backup(client, config["bucket"], key)
    needed, what = room_to_restore(key, head)
    dump_bytes = head.get("Metadata", {}).get("dump-bytes", "0")
    scratch_databases = int(dump_bytes) if dump_bytes.isdigit() else 0
    check_free_space(config, needed + scratch_databases, f"the restore drill ({what}, and the scratch databases)")


def writable_here(client):
    """(True, why) on a standalone server or a primary; a secondary cannot take the writes."""
    hello = client.admin.command("hello")
    if not hello.get("setName"):
        return True, "standalone server"
    if hello.get("isWritablePrimary") or hello.get("ismaster"):
        return True, f"primary of replica set {hello['setName']}"
    return False, (
        f"{hello.get('me', 'this member')} is not the primary of replica set {hello['setName']}: "
        f"the drill restores on the primary ({hello.get('primary', 'unknown')})"
    )


def _drill(config, client, key, scratch, reader, writer, login):
    host = socket.gethostname()
    LOG.info("restore drill of %s started on %s", key, host)
    began = time.monotonic()
    in_archive = format_of(key) == "archive"
    archive = os.path.join(scratch, "archive.gz" if in_archive else "archive.tar.gz")
    meta = download_checked(client, config["bucket"], key, archive)
    backup_key = source_key(config, key, meta)
    record = read_sidecar(config, client, backup_key)
    if in_archive:  # mongorestore reads the archive itself; the databases are in its headers
        dump_dir, names = None, names_in_archive(archive, key)
    else:
        dump_dir = unpack_one(archive, key, os.path.join(scratch, "dump"))
        names = [name for name in os.listdir(dump_dir) if os.path.isdir(os.path.join(dump_dir, name))]
    download_s = time.monotonic() - began
    databases = sorted(set(names) - set(PRIVATE_DATABASES))
    if not databases:
        raise BackupError(f"{key} holds no database to restore")
    targets = {db: scratch_name(db) for db in databases}
    check_names(targets)
    run = {"drill": uuid.uuid4().hex, "key": key, "host": host, "started_at": utc_now_text()}
    claimed, differences, found, restore_s = [], [], {}, 0.0
    try:
        claim(reader, writer, targets, run, claimed)
        oplog = os.path.join(dump_dir, "oplog.bson") if dump_dir else None
        if oplog and os.path.exists(oplog):  # never replayed: its entries name the real namespaces
            os.unlink(oplog)
            LOG.info("the archive's oplog.bson is left out of the drill (it would replay into the real databases)")
        # A mongodump archive's oplog is replayed only with --oplogReplay, which the drill never passes.
        LOG.info("restoring %s into %s", ", ".join(databases), ", ".join(targets[db] for db in databases))
        began = time.monotonic()
        with ToolLines() as lines:  # mongorestore's own words, which run_tool logs
            try:
                run_mongorestore(
                    config,
                    dump_dir,
                    restore_user=login[0],
                    restore_config=login[1],
                    extra=ns_args(targets),
                    archive=archive if in_archive else None,
                )
            except BackupError as exc:
                said = [line.split("\t")[-1] for line in lines.seen if "Failed:" in line]
                differences.append(f"{exc}" + (f": {'; '.join(said)}" if said else " (see the log)"))
        restore_s = time.monotonic() - began
        found = read_restored(reader, targets)
        differences += compare(record, backup_key, databases, found)
    finally:
        gone = drop_scratch(reader, writer, claimed)
    differences += gone
    collections = {
        f"{db}.{name}": {**facts, "expected": expected_of(record, db, name)}
        for db in found
        for name, facts in found[db].items()
    }
    for difference in differences:
        LOG.warning("restore drill: %s", difference)
    recovery_s = round(download_s + restore_s, 3)
    result = {
        "status": "failed" if differences else "ok",
        "ok": not differences,
        "key": key,
        "backup_key": backup_key,
        "sha256": meta["sha256"],
        "size": int(meta.get("size") or 0),
        "databases": targets,
        "compared": collections,
        "documents": sum(facts.get("documents") or 0 for facts in collections.values()),
        "differences": differences,
        "scratch_dropped": not gone,
        "download_s": round(download_s, 3),
        "restore_s": round(restore_s, 3),
        "recovery_s": recovery_s,
        "host": host,
        "finished_at": utc_now_text(),
    }
    LOG.info(
        "restore drill of %s: %s; %d collections, %d documents; recovery %.1f s (download %.1f s, mongorestore %.1f s)",
        backup_key,
        "ok" if result["ok"] else f"FAILED with {len(differences)} difference(s)",
        len(collections),
        result["documents"],
        recovery_s,
        download_s,
        restore_s,
    )
    return result


class ToolLines(logging.Handler):
    """What the engine logs while it is installed: the tool's last lines, as run_tool logs them."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.seen = []

    def emit(self, record):
        self.seen.append(record.getMessage())

    def __enter__(self):
        LOG.addHandler(self)
        return self

    def __exit__(self, *exc):
        LOG.removeHandler(self)


def source_key(config, key, meta):
    """The timestamped backup an alias (latest, daily-*) copies, from its metadata; its sidecar
    holds the record."""
    name = meta.get("tasky-backup", "")
    return f"{config['prefix']}{name}.{extension_of(format_of(key))}" if name else key


def names_in_archive(archive, key):
    """The databases a gzipped mongodump archive holds, read from its headers to its end (a
    damaged archive fails here, naming what is wrong, before anything is restored)."""
    with open(archive, "rb") as stream:
        _read, names, problems = read_mongodump_archive(key, stream, public=False)
    if problems:
        raise BackupError(f"{key} cannot be restored: {'; '.join(problems)}")
    return sorted({name.split(".", 1)[0] for name in names})


def unpack_one(archive, key, dest):
    from .archive import unpack

    with open(archive, "rb") as stream:
        unpack(stream, key, dest)
    os.unlink(archive)  # the dump alone from here on: half the disk
    tops = os.listdir(dest)
    if len(tops) != 1:
        raise BackupError(f"{key} should unpack to one mongodb-backup-* folder, found {tops}")
    return os.path.join(dest, tops[0])


def check_names(targets):
    too_long = [db for db, target in targets.items() if len(target.encode()) > MAX_DATABASE_NAME]
    if too_long:
        raise BackupError(
            f"database name(s) {', '.join(too_long)} too long for a scratch name '{DRILL_PREFIX}<db>' "
            f"(MongoDB allows {MAX_DATABASE_NAME} bytes); nothing was restored"
        )


def claim(reader, writer, targets, run, claimed):
    """Makes each scratch database the drill's (a marker collection in it, before anything else),
    after checking that none of them is someone else's. A scratch database left by a killed drill
    (it has the marker) is dropped first. Appends each claimed name to `claimed` as it goes."""
    existing = set(reader.list_database_names())
    leftovers, foreign = [], []
    for target in sorted(set(targets.values()) & existing):
        (leftovers if MARKER in reader[target].list_collection_names() else foreign).append(target)
    if foreign:
        raise BackupError(
            f"database(s) {', '.join(foreign)} exist and were not made by a restore drill: the drill restores "
            f"into {DRILL_PREFIX}<db> and never touches a database it did not make; nothing was restored "
            "(rename or drop them)"
        )
    for target in leftovers:
        LOG.warning("dropping %s, left by an earlier restore drill that did not finish", target)
        problems = drop_database(reader, writer, target)
        if problems:
            raise BackupError(f"cannot drop {target}, left by an earlier drill: {'; '.join(problems)}")
    for target in sorted(set(targets.values())):
        claimed.append(target)  # before the insert: a half-made claim is still dropped
        writer[target][MARKER].insert_one({"_id": "drill", **run})


def ns_args(targets):
    """mongorestore namespace options: only the archive's databases, each into its scratch name."""
    args = []
    for db, target in sorted(targets.items()):
        args += [f"--nsInclude={ns_escape(db)}.*", f"--nsFrom={ns_escape(db)}.*", f"--nsTo={ns_escape(target)}.*"]
    return args


def ns_escape(name):
    """mongorestore namespace patterns take '*' as a wildcard and '\\' as its escape."""
    return name.replace("\\", "\\\\").replace("*", "\\*")


def read_restored(reader, targets):
    """{db: {collection: {"documents": n, "indexes": [...]}}} of the scratch databases, as the
    backup user reads them (views: {"type": "view"})."""
    found = {}
    for db, target in sorted(targets.items()):
        collections = {}
        for info in reader[target].list_collections():
            name = info["name"]
            if name == MARKER or name.startswith("system."):
                continue
            if info.get("type", "collection") != "collection":
                collections[name] = {"type": info["type"]}
                continue
            handle = reader[target][name]
            collections[name] = {
                "documents": handle.count_documents({}),
                "indexes": sorted(index["name"] for index in handle.list_indexes()),
            }
        found[db] = collections
    return found


def expected_of(record, db, name):
    if not record:
        return None
    return (record.get("databases", {}).get(db) or {}).get(name)


def compare(record, backup_key, databases, found):
    """The differences between what the dump held (the record) and what was restored."""
    if not record:
        return [
            f"no record of what {backup_key} held at dump time (its sidecar {backup_key}.json is missing or "
            "unreadable): nothing to compare the restore with"
        ]
    differences = [f"recorded at dump time: {problem}" for problem in record.get("problems") or []]
    expected = record.get("databases") or {}
    for db in sorted(set(expected) - set(databases)):
        differences.append(f"database {db} was recorded at dump time and is not in the archive")
    for db in sorted(set(databases) - set(expected)):
        differences.append(f"database {db} is in the archive and was not recorded at dump time")
    for db in sorted(set(expected) & set(databases)):
        want, got = expected[db], found.get(db, {})
        for name in sorted(set(want) | set(got)):
            differences += compare_collection(f"{db}.{name}", want.get(name), got.get(name))
    return differences


def compare_collection(namespace, want, got):
    if want is None:
        return [f"{namespace} was restored and was not recorded at dump time"]
    if got is None:
        count = "" if want.get("documents") is None else f" ({want['documents']} documents)"
        return [f"{namespace} was recorded at dump time{count} and was not restored"]
    if want.get("type", "collection") != got.get("type", "collection"):
        was, now = want.get("type", "collection"), got.get("type", "collection")
        return [f"{namespace} was a {was} at dump time, restored as a {now}"]
    if want.get("type", "collection") != "collection":
        return []
    differences = []
    if want.get("documents") is None:
        differences.append(f"{namespace}: no document count was recorded at dump time; {got['documents']} restored")
    elif want["documents"] != got["documents"]:
        differences.append(f"{namespace}: {want['documents']} documents at dump time, {got['documents']} restored")
    missing = sorted(set(want.get("indexes") or []) - set(got["indexes"]))
    extra = sorted(set(got["indexes"]) - set(want.get("indexes") or []))
    if missing:
        differences.append(f"{namespace}: index(es) {', '.join(missing)} recorded at dump time and not restored")
    if extra:
        differences.append(f"{namespace}: index(es) {', '.join(extra)} restored and not recorded at dump time")
    return differences


def drop_scratch(reader, writer, claimed):
    """Drops every scratch database this drill claimed; never raises. Returns what is left."""
    problems = []
    for target in claimed:
        try:
            problems += drop_database(reader, writer, target)
        except Exception as exc:  # noqa: BLE001 - every scratch database gets its attempt
            problems.append(f"scratch database {target} could not be dropped: {type(exc).__name__}: {exc}")
    for problem in problems:
        LOG.error("restore drill: %s", problem)
    if claimed and not problems:
        LOG.info("dropped the scratch database(s) %s", ", ".join(claimed))
    return problems


def drop_database(reader, writer, target):
    """Drops every collection of a scratch database, the marker last (so a drill killed half-way
    leaves a database still marked as the drill's). MongoDB removes a database whose last
    collection is dropped; a server that keeps it empty is asked to drop it (best-effort: the
    `restore` role has no dropDatabase, and MongoDB never needs it). Returns problems."""
    names = writer[target].list_collection_names()
    for name in sorted(names, key=lambda n: (n == MARKER, n.startswith("system."), n)):
        writer[target].drop_collection(name)
    if target in reader.list_database_names():
        try:
            writer.drop_database(target)
        except Exception as exc:  # noqa: BLE001 - reported below if the database is still there
            LOG.info("dropDatabase %s: %s", target, exc)
    if target in reader.list_database_names():
        left = reader[target].list_collection_names()
        return [f"scratch database {target} is still there after dropping its collections (left: {left})"]
    return []
