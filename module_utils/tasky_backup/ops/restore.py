"""Restore a backup from S3. It checks before it writes: the backup's signed manifest is
checked against allowed_signers, the backup is downloaded into a root-only scratch directory
(decrypted on the way when encrypted) and its sha256 compared with the manifest's (a mongodump
archive is also read through to its end), and a backup of another deployment is refused unless
asked for; only then does mongorestore run, never on admin, config or local."""

import dataclasses
import logging

from ..base.errors import reported_as
from ..base.files import private_dir, scratch_dir
from ..base.lock import Lock
from ..base.results import Result
from ..formats.registry import for_key
from ..formats.restore_into import check_deployment, fetch, restore_into
from ..mongo.server import credentials_password
from ..s3.client import s3_client
from ..s3.keys import resolve_key

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class RestoreResult(Result):
    key: str
    backup_key: str
    drop: bool
    documents: int
    sha256: str
    signed: bool  # trusted through a signed manifest (False: allow_unsigned, metadata only)
    oplog_replayed: bool
    restored: bool = True


@reported_as("restore")
def restore_backup(settings, request, client=None):
    """Downloads a backup, checks it, readies it and runs mongorestore on it.

    The backup user's `backup` role cannot write: a real restore passes a user allowed to
    (request.restore_user) and a mongorestore --config file with its password
    (request.restore_config)."""
    if request.restore_config:  # like the drill's: root-only with a password, before any download
        credentials_password(request.restore_config)
    client = client or s3_client(settings)
    key = resolve_key(settings, request.key)
    fmt = for_key(key)
    with Lock(settings.lock_file):
        private_dir(settings.work_dir)
        with scratch_dir(settings.work_dir, "restore-") as scratch:
            # The download (and a tar.gz's unpacked dump) land in the work directory, often on
            # the database's own volume: refused, before a byte is written, rather than fill it.
            fetched = fetch(
                settings,
                client,
                key,
                fmt,
                scratch,
                request.allow_unsigned,
                lambda found: check_deployment(settings, found, request.allow_other_deployment),
                room=("the restore ({})", False),
            )
            how = "mongorestore --archive --gzip" if fmt.name == "archive" else "mongorestore"
            LOG.info("restoring %s (%s) with %s%s", key, fetched.backup_key, how, " --drop" if request.drop else "")
            login = (request.restore_user, request.restore_config)
            documents = restore_into(settings, fetched, login, request.drop)
    LOG.info("restored %s: %d documents", key, documents)
    return RestoreResult(
        key=key,
        backup_key=fetched.backup_key,
        drop=request.drop,
        documents=documents,
        sha256=fetched.sha256,
        signed=fetched.manifest is not None,
        oplog_replayed=fetched.oplog,
    )
