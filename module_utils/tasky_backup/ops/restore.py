"""Restore a backup from S3. It checks before it writes: the backup is downloaded into a
root-only scratch directory and its sha256 compared with the one recorded at backup time (a
mongodump archive is also read through to its end), and a backup of another deployment is
refused unless asked for; only then does mongorestore run."""

import dataclasses
import logging
import socket

from ..base.errors import BackupError, reported_as
from ..base.files import private_dir, scratch_dir
from ..base.lock import Lock
from ..base.results import Result
from ..formats.registry import for_key
from ..formats.restore_into import check_room, fetch, restore_into
from ..s3.client import s3_client
from ..s3.keys import resolve_key

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class RestoreResult(Result):
    key: str
    drop: bool
    documents: int
    sha256: str
    restored: bool = True


@reported_as("restore")
def restore_backup(settings, request, client=None):
    """Downloads a backup, checks it, readies it and runs mongorestore on it.

    The backup user's `backup` role cannot write: a real restore passes a user allowed to
    (request.restore_user) and a mongorestore --config file with its password
    (request.restore_config)."""
    client = client or s3_client(settings)
    key = resolve_key(settings, request.key)
    fmt = for_key(key)
    with Lock(settings.lock_file):
        private_dir(settings.work_dir)
        # The download (and a tar.gz's unpacked dump) land in the work directory, often on the
        # database's own volume: refuse rather than fill it.
        check_room(settings, client, key, fmt, "the restore ({})")
        with scratch_dir(settings.work_dir, "restore-") as scratch:
            accept = lambda meta: check_deployment(settings, key, meta, request.allow_other_deployment)  # noqa: E731
            meta, restorable, _seconds = fetch(settings, client, key, fmt, scratch, accept)
            how = "mongorestore --archive --gzip" if fmt.name == "archive" else "mongorestore"
            LOG.info("restoring %s with %s%s", key, how, " --drop" if request.drop else "")
            login = (request.restore_user, request.restore_config)
            documents = restore_into(settings, restorable, login, request.drop, oplog_replay=restorable.has_oplog)
    LOG.info("restored %s: %d documents", key, documents)
    return RestoreResult(key=key, drop=request.drop, documents=documents, sha256=meta.sha256)


def check_deployment(settings, key, meta, allowed):
    here = settings.deployment or socket.gethostname()
    there = meta.deployment
    if there and there != here and not allowed:
        raise BackupError(
            f"{key} is a backup of deployment '{there}' (host {meta.host or '?'}), not of '{here}'; "
            "nothing was restored (allow_other_deployment restores it anyway)"
        )
