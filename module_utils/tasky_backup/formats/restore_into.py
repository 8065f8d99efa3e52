"""The step a restore and a restore drill share: make room, download a backup checked against
its recorded sha256 and size, ready it for mongorestore in its format, and restore it into the
server (the live namespaces, or the drill's scratch ones)."""

import logging
import os
import time

from ..base.space import check_free_space
from ..mongo.tools import run_mongorestore
from ..s3.meta import ObjectMeta
from ..s3.objects import download_checked, head_of_backup

LOG = logging.getLogger(__name__)


def check_room(settings, client, key, fmt, what, scratch_databases=False):
    """Refuses a restore that would leave the work directory's file system short (the nightly
    check's min_free_percent): what the format needs on disk, and with scratch_databases the
    dump's size again (the drill's copy of the data, when the work directory is on the
    database's volume). `what` names it in the refusal ("{}": what is on disk)."""
    head = head_of_backup(client, settings.bucket, key)
    meta = ObjectMeta.from_s3(head.get("Metadata"))
    needed, on_disk = fmt.room(head["ContentLength"], meta.dump_bytes)
    if scratch_databases:
        needed += meta.dump_bytes or 0
    check_free_space(settings, needed, what.format(on_disk))


def fetch(settings, client, key, fmt, scratch, accept=None):
    """(ObjectMeta, Restorable, seconds): the backup downloaded into scratch, checked, accepted
    (accept(meta) raises to refuse it before any more work) and readied by its format (a tar.gz
    unpacked, an archive read through)."""
    began = time.monotonic()
    path = os.path.join(scratch, f"download.{fmt.extension}")
    meta = download_checked(client, settings.bucket, key, path)
    if accept:
        accept(meta)
    restorable = fmt.restorable(path, key, scratch)
    return meta, restorable, time.monotonic() - began


def restore_into(settings, restorable, login=(None, None), drop=False, oplog_replay=False, extra=()):
    """mongorestore of a Restorable as login (user, --config file); returns the documents restored."""
    return run_mongorestore(settings, restorable.source_args, login, drop, oplog_replay, extra)
