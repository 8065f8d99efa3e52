"""One run at a time: an exclusive, non-blocking flock."""

import fcntl
import os

from .errors import Locked


class Lock:
    """An exclusive, non-blocking flock; released when the process ends, however it ends."""

    def __init__(self, path):
        self.path = path
        self.handle = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise Locked(f"another backup is running (lock {self.path} is held); nothing done") from None
        return self

    def __exit__(self, *exc):
        self.handle.close()
