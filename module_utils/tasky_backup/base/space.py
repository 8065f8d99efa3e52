"""Free space in the work directory, checked before a run writes there: MongoDB's own data,
often on the same volume, must never run out of disk because of a backup or a restore."""

import logging
import os

from .errors import BackupError

LOG = logging.getLogger(__name__)


def check_free_space(settings, needed, what="the dump"):
    """Refuses to write about `needed` bytes when that would leave the work directory's file
    system with less than min_free_percent free."""
    fs = os.statvfs(settings.work_dir)
    total, free = fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize
    keep = total * settings.min_free_percent / 100
    if free - needed < keep:
        raise BackupError(
            f"not enough free space in {settings.work_dir}: {what} needs about {mib(needed)}, "
            f"{mib(free)} are free and {settings.min_free_percent}% ({mib(keep)}) must stay free"
        )
    LOG.info("free space: %s in %s, %s needs about %s", mib(free), settings.work_dir, what, mib(needed))


def mib(size):
    return f"{size / (1 << 20):.1f} MiB"
