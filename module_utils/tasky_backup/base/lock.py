"""One run at a time: an exclusive, non-blocking flock in a root-only directory.

The lock file lives in its own 0700 directory (/run/mongodb-backup/), not in the world-writable
/run/lock where any local user could take it first and stop every backup. It records who holds
it and since when, so a run that finds it held (and status-check.sh) can say so.
"""

import fcntl
import json
import os
import time

from .clock import utc_now_text
from .errors import BackupError, Locked
from .files import open_private, private_dir

# A held lock is retried for TRIES x PAUSE_S (2 s) before the run says "locked".
TRIES, PAUSE_S = 20, 0.1


class Lock:
    """An exclusive, non-blocking flock; released when the process ends, however it ends."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        try:
            private_dir(os.path.dirname(os.path.abspath(self.path)))
            self.fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            raise BackupError(f"cannot open the lock {self.path}: {exc.strerror}") from None
        if not take(self.fd):
            holder = read_holder(self.fd)
            os.close(self.fd)
            since = f" since {holder['since']} (pid {holder['pid']})" if holder else ""
            raise Locked(f"another backup is running{since}: lock {self.path} is held; nothing done") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps({"pid": os.getpid(), "since": utc_now_text()}).encode(), 0)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def take(fd, tries=TRIES, pause_s=PAUSE_S):
    """The exclusive flock, tried for a moment: status-check.sh's probe (running_since) holds a
    shared lock for an instant, and a run starting just then must not lose its night to it."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < tries:
                time.sleep(pause_s)
    return False


def read_holder(fd):
    """What the holder wrote: {"pid", "since"}, or None."""
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"null")
    except ValueError:
        return None


def running_since(path):
    """When the run that holds the lock now started; None when no run holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        holder = read_holder(fd)
        return holder["since"] if holder else "unknown"
    finally:
        os.close(fd)
