"""The restore drill: proof that a backup restores, not a hope that it would.

One drill (`backup.sh --drill`, the module's state=drill, and an optional weekly cron entry),
under the engine's lock so it never overlaps a backup:

1. checks the backup's (default latest) signed manifest against allowed_signers, downloads it
   into a root-only scratch directory (decrypted with the host's age identity when encrypted)
   with its sha256 and size checked against the manifest, whose record of what the dump held
   at dump time is what the restore is compared with, and readies it (a tar.gz unpacked, a
   mongodump archive read through);
2. restores every database of the archive into a scratch database on the same server,
   `<db>` -> `drill_<db>`, with the real mongorestore (--nsInclude/--nsFrom/--nsTo, so nothing
   lands in a real namespace; an oplog is never replayed), as the drill user;
3. compares every collection's document count and index names with the record (mongo/compare.py),
   reading them as the backup user (whose `backup` role may read everything);
4. drops the scratch databases (mongo/scratch.py) whatever happened, and says whether they are gone;
5. reports ok or every difference, and the time the recovery took (download + unpack +
   mongorestore): a measured recovery time.
"""

import dataclasses
import logging
import socket
import time
import uuid

from ..base.clock import utc_now_text
from ..base.errors import BackupError, reported_as
from ..base.files import remove_leftovers, scratch_dir
from ..base.lock import Lock
from ..base.results import Result
from ..base.settings import PRIVATE_DATABASES
from ..formats.registry import for_key
from ..formats.restore_into import fetch, restore_into
from ..mongo.compare import compare, expected_of
from ..mongo.scratch import check_names, claim, drop_scratch, ns_args, read_restored, scratch_name
from ..mongo.server import connect, credentials_password, writable_here
from ..mongo.tools import ToolFailed
from ..s3.client import s3_client
from ..s3.keys import resolve_key
from ..s3.manifest import read_record

LOG = logging.getLogger(__name__)

# Differences kept in the state file and the summary line (the result returned has them all).
SUMMARY_DIFFERENCES = 20


@dataclasses.dataclass
class DrillResult(Result):
    key: str
    backup_key: str
    sha256: str
    size: int
    databases: dict  # each database of the backup -> its scratch database
    compared: dict  # per collection: what was restored and what was recorded ("expected")
    documents: int
    differences: list
    scratch_dropped: bool
    download_s: float
    restore_s: float
    recovery_s: float
    host: str
    finished_at: str
    duration_s: float = None
    status: str = "ok"
    ok: bool = True

    def summary(self):
        """Without the per-collection detail, and at most a few differences."""
        return summarised(self.as_dict())


@dataclasses.dataclass
class DrillSkipped(Result):
    """Not the primary of a replica set: the primary drills."""

    reason: str
    key: str
    host: str
    finished_at: str
    status: str = "skipped"


def summarised(result):
    """A drill's result (a dict) without the per-collection detail, at most a few differences:
    what the state file and the summary line keep."""
    short = {k: v for k, v in result.items() if k != "compared"}
    differences = result.get("differences") or []
    if len(differences) > SUMMARY_DIFFERENCES:
        more = len(differences) - SUMMARY_DIFFERENCES
        short["differences"] = [*differences[:SUMMARY_DIFFERENCES], f"... and {more} more"]
    return short


def drill_login(settings):
    """(user, mongorestore --config file) of the drill user, who may write; refused when the
    settings name none: the backup user's `backup` role cannot restore on MongoDB."""
    user, secret = settings.drill_user, settings.drill_config
    if not user or not secret:
        raise BackupError(
            "no drill login configured (drill_user, drill_config): the drill restores as a user allowed to "
            "write (the mongodb_backup role writes it with mongodb_backup_drill_enabled)"
        )
    return user, secret


@reported_as("drill")
def drill(settings, request, client=None):
    """One restore drill of a backup: a DrillResult (ok or failed) or DrillSkipped (a replica set
    member that is not the primary); raises BackupError when it cannot run at all (Locked when
    a backup or another drill holds the lock)."""
    login = drill_login(settings)
    client = client or s3_client(settings)
    key = resolve_key(settings, request.key)
    started = time.monotonic()
    with Lock(settings.lock_file):
        remove_leftovers(settings.work_dir)  # holding the lock proves no run is using them
        with connect(settings) as reader, connect(settings, login[0], credentials_password(login[1])) as writer:
            primary, reason = writable_here(reader)
            if not primary:
                LOG.info("restore drill skipped: %s", reason)
                return DrillSkipped(reason, key, socket.gethostname(), utc_now_text())
            fmt = for_key(key)
            with scratch_dir(settings.work_dir, "restore-drill-") as scratch:
                result = _drill(settings, client, key, fmt, scratch, (reader, writer), login, request.allow_unsigned)
    result.duration_s = round(time.monotonic() - started, 3)
    return result


def _drill(settings, client, key, fmt, scratch, clients, login, allow_unsigned):
    host = socket.gethostname()
    LOG.info("restore drill of %s started on %s", key, host)
    room = ("the restore drill ({}, and the scratch databases)", True)
    fetched = fetch(settings, client, key, fmt, scratch, allow_unsigned, room=room)
    backup_key, download_s = fetched.backup_key, fetched.seconds
    # What the dump held: the signed manifest's record (an earlier release's sidecar only with
    # allow_unsigned).
    record = dataclasses.asdict(fetched.manifest) if fetched.manifest else read_record(settings, client, backup_key)
    databases = sorted(set(fetched.restorable.databases) - set(PRIVATE_DATABASES))
    if not databases:
        raise BackupError(f"{key} holds no database to restore")
    targets = {db: scratch_name(db) for db in databases}
    check_names(targets)
    run = {"drill": uuid.uuid4().hex, "key": key, "host": host, "started_at": utc_now_text()}
    found, failures, gone, restore_s = restore_and_read(settings, fetched, login, clients, targets, run)
    differences = [*failures, *compare(record, backup_key, databases, found), *gone]
    collections = {
        f"{db}.{name}": {**facts, "expected": expected_of(record, db, name)}
        for db in found
        for name, facts in found[db].items()
    }
    for difference in differences:
        LOG.warning("restore drill: %s", difference)
    result = DrillResult(
        key=key,
        backup_key=backup_key,
        sha256=fetched.sha256,
        size=(fetched.manifest.size if fetched.manifest else fetched.meta.size) or 0,
        databases=targets,
        compared=collections,
        documents=sum(facts.get("documents") or 0 for facts in collections.values()),
        differences=differences,
        scratch_dropped=not gone,
        download_s=round(download_s, 3),
        restore_s=round(restore_s, 3),
        recovery_s=round(download_s + restore_s, 3),
        host=host,
        finished_at=utc_now_text(),
        status="failed" if differences else "ok",
        ok=not differences,
    )
    LOG.info(
        "restore drill of %s: %s; %d collections, %d documents; recovery %.1f s (download %.1f s, mongorestore %.1f s)",
        backup_key,
        "ok" if result.ok else f"FAILED with {len(differences)} difference(s)",
        len(collections),
        result.documents,
        result.recovery_s,
        download_s,
        restore_s,
    )
    return result


def restore_and_read(settings, fetched, login, clients, targets, run):
    """Claims the scratch databases, restores into them and reads them back, then drops them
    whatever happened: (what was restored, the restore's own failures, what the drop left,
    seconds mongorestore took)."""
    (reader, writer), claimed, failures, found, restore_s = clients, [], [], {}, 0.0
    try:
        claim(reader, writer, targets, run, claimed)
        fetched.restorable.leave_out_oplog()
        LOG.info("restoring %s into %s", ", ".join(targets), ", ".join(targets.values()))
        began = time.monotonic()
        try:
            restore_into(settings, fetched, login, extra=ns_args(targets), oplog_replay=False)
        except ToolFailed as exc:  # mongorestore's own words say why
            said = [line.split("\t")[-1] for line in exc.lines if "Failed:" in line]
            failures.append(f"{exc}" + (f": {'; '.join(said)}" if said else " (see the log)"))
        except BackupError as exc:
            failures.append(f"{exc} (see the log)")
        restore_s = time.monotonic() - began
        found = read_restored(reader, targets)
    finally:
        gone = drop_scratch(reader, writer, claimed)
    return found, failures, gone, restore_s
