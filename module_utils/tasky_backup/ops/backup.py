"""One backup run: lock, clear leftovers, ask the server, dump in the configured format, stream
it into one verified upload, copy it to daily and latest; a failure takes back every write."""

import dataclasses
import logging
import socket
import time

from ..base.clock import utc_now, utc_now_text
from ..base.errors import BackupError
from ..base.files import remove_leftovers
from ..base.lock import Lock
from ..base.progress import Progress
from ..base.results import Result
from ..formats.gzip import compress_threads
from ..formats.registry import named
from ..mongo.server import ask_server
from ..s3.client import s3_client
from ..s3.keys import names_for, public_url
from ..s3.meta import ObjectMeta
from ..s3.multipart import part_size_for, upload_verified
from ..s3.objects import server_side_copy, set_retention, source_of
from ..s3.rollback import Rollback

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class BackupResult(Result):
    name: str
    format: str
    key: str
    keys: list  # the timestamped backup, its daily and latest copies
    urls: list  # public URLs of the backup and of latest
    bucket: str
    databases: list
    size: int
    sha256: str
    dump_bytes: int
    host: str
    duration_s: float
    finished_at: str
    progress: list  # the progress lines logged
    users_key: str = None
    catalogue: str = None  # the catalogue page's URL, once written (ops/catalogue.py)
    catalogue_error: str = None
    facts: dict = None  # what the dump held, for its sidecar (ops/catalogue.py)
    status: str = "success"

    OPTIONAL = ("users_key", "catalogue", "catalogue_error")
    HIDDEN = ("facts",)


@dataclasses.dataclass
class Skipped(Result):
    """A replica set member that is not the one chosen to back up."""

    reason: str
    host: str
    finished_at: str
    status: str = "skipped"


def take_backup(settings, now=None, client=None):
    """One whole backup run under the lock: a BackupResult, or Skipped; raises BackupError."""
    with Lock(settings.lock_file):
        remove_leftovers(settings.work_dir)
        return _take_backup(settings, now or utc_now(), client or s3_client(settings))


def _take_backup(settings, now, client):
    started = time.monotonic()
    fmt = named(settings.format)
    names = names_for(settings.prefix, now, fmt.name)
    host = socket.gethostname()
    LOG.info("backup %s started on %s (format %s)", names.name, host, fmt.name)
    try:
        client.head_bucket(Bucket=settings.bucket)
    except Exception as exc:  # noqa: BLE001 - any failure here means: do not start
        raise BackupError(f"S3 bucket {settings.bucket} is not reachable: {exc}") from None
    answer = ask_server(settings)
    if not answer.chosen:
        LOG.info("skipped: %s", answer.reason)
        return Skipped(answer.reason, host, utc_now_text())
    LOG.info("%s; databases: %s", answer.reason, ", ".join(answer.databases) or "(none)")
    if not answer.databases and not settings.oplog:
        raise BackupError("there is no database to back up (databases is empty and the server has none)")
    meta = ObjectMeta(name=names.name, format=fmt.name, deployment=settings.deployment or host, host=host)
    LOG.info("compressing on %d thread(s), gzip level %d", compress_threads(settings), settings.compress_level)
    rollback = Rollback(client, settings.bucket, settings.s3_patience_s)
    with fmt.dumped(settings, names, answer, host) as dump:
        try:
            uploaded, lines = upload_dump(settings, client, names.key, dump, meta, rollback)
            publish(settings, client, uploaded, names, rollback)
            users_key = None
            if settings.users_prefix:
                users_key = names.users_key(settings.users_prefix)
                upload_dump(settings, client, users_key, dump.users(), meta, rollback)
                LOG.info("users and roles in s3://%s/%s (private)", settings.bucket, users_key)
        except BaseException:
            rollback.undo()
            raise
    return BackupResult(
        name=names.name,
        format=fmt.name,
        key=names.key,
        keys=[names.key, names.daily_key, names.latest_key],
        urls=[public_url(settings, k) for k in (names.key, names.latest_key)],
        bucket=settings.bucket,
        databases=list(answer.databases),
        size=uploaded.size,
        sha256=uploaded.sha256,
        dump_bytes=dump.dump_bytes,
        host=host,
        duration_s=round(time.monotonic() - started, 3),
        finished_at=utc_now_text(),
        progress=[*dump.progress_lines, *lines],
        users_key=users_key,
        facts=dump.facts,
    )


def upload_dump(settings, client, key, dump, meta, rollback):
    """A format's Dump streamed into one verified object; returns (Uploaded, progress lines).
    The part size follows the dump's size (the server's estimate in the archive format: parts
    grow should the dump outrun it)."""
    part_size = part_size_for(dump.total, settings.part_size_mib)
    meta = meta.but(dump_bytes=dump.dump_bytes)

    def produce(writer):
        dump.write(writer, progress)
        return meta.but(dump_bytes=dump.dump_bytes)  # the archive format knows it once written

    with Progress(dump.phase, dump.total, dump.estimated, settings.progress_log_s) as progress:
        uploaded = upload_verified(settings, client, key, part_size, meta, rollback, produce, progress)
    return uploaded, progress.lines


def publish(settings, client, uploaded, names, rollback):
    """daily-YYYY-MM-DD (expires with the lifecycle) and latest (never expires) by server-side
    copy of the verified version of the object (not whatever is current by then): one upload
    per backup."""
    bucket, patience = settings.bucket, settings.s3_patience_s
    source = source_of(bucket, uploaded.key, uploaded.version)
    for target, expires in ((names.daily_key, True), (names.latest_key, False)):
        copied = server_side_copy(client, bucket, source, target, uploaded.meta, patience, expires)
        rollback.add(target, copied)
        set_retention(client, bucket, target, copied, expires, patience)
        LOG.info("copied to s3://%s/%s", bucket, target)
