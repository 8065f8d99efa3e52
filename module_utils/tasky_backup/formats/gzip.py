"""gzip on every core, and the readers that count and hash a stream as it passes.

Compression is zlib-ng's (PyPI `zlib-ng`, pinned in the engine's venv): its threaded gzip
writer compresses blocks on several threads, each block primed with the last 32 KiB of the one
before (as pigz does), and writes one plain gzip member: `gzip -t`, `tar -xzf`, mongorestore
--gzip and Python's gzip module read it. At level 6 its ratio is gzip -6's; docs/benchmark.md
has the figures that chose it over isal and the engine's earlier hand-written writer.
"""

import contextlib
import hashlib
import os

from ..base.errors import BackupError

BLOCK = 1 << 20  # zlib-ng's block: at most threads x 2 blocks are in flight


def host_cores():
    """The cores this process may run on (its CPU affinity, else the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def compress_threads(settings):
    """Compression threads of a run: every core of the host, or fewer when compress_threads
    caps it (0: no cap)."""
    cores = host_cores()
    cap = settings.compress_threads
    return min(cap, cores) if cap else cores


def zlib_ng_threaded():
    try:
        from zlib_ng import gzip_ng_threaded
    except ImportError:
        raise BackupError("zlib-ng is not installed (the mongodb_backup role puts it in the engine's venv)") from None
    return gzip_ng_threaded


@contextlib.contextmanager
def gzip_stream(out, settings):
    """A binary file object whose bytes reach `out` (from zlib-ng's writer thread) as one gzip
    member, compressed on the run's compress threads at its level. Closed on leaving. On an
    error `out.halt()` is called first (the S3 writer then refuses what follows, so zlib-ng
    drops the rest), and the writer's threads are ended before the error goes on."""
    gz = zlib_ng_threaded().open(
        out, "wb", compresslevel=settings.compress_level, threads=compress_threads(settings), block_size=BLOCK
    )
    try:
        yield gz
    except BaseException:
        if hasattr(out, "halt"):
            out.halt()
        with contextlib.suppress(Exception):
            gz.close()  # zlib-ng's close ends its threads even when a write fails
        raise
    gz.close()


class CountingReader:
    """A file object reading `handle`, telling `counter` how many bytes it hands out."""

    def __init__(self, handle, counter):
        self.handle, self.counter = handle, counter

    def read(self, n=-1):
        data = self.handle.read(n)
        self.counter(len(data))
        return data


class HashingReader:
    """Reads a stream, hashing and counting what passes; past `limit` bytes it refuses (a stream
    longer than its record says is not the one it claims to be)."""

    def __init__(self, stream, limit=None):
        self.stream, self.sha256, self.size, self.limit = stream, hashlib.sha256(), 0, limit

    def read(self, n=-1):
        data = self.stream.read(n)
        self.sha256.update(data)
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise BackupError(f"the stream runs past its recorded {self.limit} bytes")
        return data

    def drain(self, chunk=1 << 20):
        """Reads the rest (what a reader of the archive left unread)."""
        while self.read(chunk):
            pass
