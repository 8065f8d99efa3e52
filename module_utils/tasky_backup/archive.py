"""gzip on every core, the tar.gz of a dump folder, reading one back, unpacking it safely.

Compression is zlib-ng's (PyPI `zlib-ng`, pinned in the engine's venv): its threaded gzip
writer compresses blocks on several threads, each block primed with the last 32 KiB of the one
before (as pigz does), and writes one plain gzip member: `gzip -t`, `tar -xzf`, mongorestore
--gzip and Python's gzip module read it. At level 6 its ratio is gzip -6's; the README's
"Benchmark" has the figures that chose it over isal and the engine's earlier hand-written writer.
"""

import contextlib
import gzip
import hashlib
import os
import tarfile

from .config import compress_threads_for
from .errors import BackupError

BLOCK = 1 << 20  # zlib-ng's block: at most threads x 2 blocks are in flight


def zlib_ng_threaded():
    try:
        from zlib_ng import gzip_ng_threaded
    except ImportError:
        raise BackupError("zlib-ng is not installed (the mongodb_backup role puts it in the engine's venv)") from None
    return gzip_ng_threaded


@contextlib.contextmanager
def gzip_stream(out, config, threads=None):
    """A binary file object whose bytes reach `out` (from zlib-ng's writer thread) as one gzip
    member, compressed on `threads` (default: the run's compress threads). Closed on leaving.
    On an error `out.halt()` is called first (the S3 writer then refuses what follows, so
    zlib-ng drops the rest), and the writer's threads are ended before the error goes on."""
    threads = threads or compress_threads_for(config)
    gz = zlib_ng_threaded().open(out, "wb", compresslevel=config["compress_level"], threads=threads, block_size=BLOCK)
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
    """A file object reading `path`, counting the bytes it hands out (the progress of a tar.gz)."""

    def __init__(self, handle, counter):
        self.handle, self.counter = handle, counter

    def read(self, n=-1):
        data = self.handle.read(n)
        self.counter(len(data))
        return data


def stream_archive(config, dump_dir, writer, leave_out=(), progress=None):
    """tar.gz of dump_dir (arcname: its basename) written straight into the S3 writer, without
    the top-level folders named in leave_out (databases that must not be published)."""
    top = os.path.basename(dump_dir)
    skipped = {f"{top}/{name}" for name in leave_out}
    read = progress.read if progress else (lambda n: None)

    def keep(member):  # a folder left out is not descended into
        return None if member.name in skipped else member

    with gzip_stream(writer, config) as gz, tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(dump_dir):
            dirs.sort()
            arcroot = top + root[len(dump_dir) :]
            if keep(tarfile.TarInfo(arcroot)) is None:
                dirs.clear()
                continue
            tar.add(root, arcname=arcroot, recursive=False)
            for name in sorted(files):
                path = os.path.join(root, name)
                info = tar.gettarinfo(path, arcname=f"{arcroot}/{name}")
                with open(path, "rb") as handle:
                    tar.addfile(info, CountingReader(handle, read))


class HashingReader:
    """Reads a stream, hashing and counting what passes."""

    def __init__(self, stream):
        self.stream, self.sha256, self.size = stream, hashlib.sha256(), 0

    def read(self, n=-1):
        data = self.stream.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data


def safe_member(member):
    name = member.name
    return (member.isfile() or member.isdir()) and not name.startswith("/") and ".." not in name.split("/")


def unpack(stream, key, dest):
    """Unpacks a tar.gz stream into dest, refusing absolute paths, '..' and anything but plain
    files and directories."""
    with gzip.GzipFile(fileobj=stream, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        for member in tar:
            if not safe_member(member):
                raise BackupError(f"{key} holds an unsafe path: {member.name}")
            tar.extract(member, dest)
