"""tar.gz streams: packing a dump on several cores, reading one back, unpacking it safely."""

import collections
import concurrent.futures
import gzip
import hashlib
import os
import tarfile

from .chunking import ChunkingWriter
from .errors import BackupError


class ParallelGzipWriter(ChunkingWriter):
    """Gzip on several cores: the stream is cut into chunks compressed in threads (zlib frees
    the GIL) and written, in order, as consecutive gzip members. A multi-member gzip file is
    plain gzip to gzip, tar -xz and Python's gzip module (RFC 1952, section 2.2)."""

    def __init__(self, out, level, threads, chunk_size=4 << 20):
        super().__init__(chunk_size)
        self.out, self.level = out, level
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads)
        self.pending = collections.deque()
        self.max_pending = threads + 1

    def _chunk(self, chunk):
        self.pending.append(self.pool.submit(gzip.compress, chunk, self.level, mtime=0))
        while len(self.pending) >= self.max_pending:
            self.out.write(self.pending.popleft().result())

    def close(self):
        if self.buffer or not self.pending:
            self._chunk(self._rest())
        while self.pending:
            self.out.write(self.pending.popleft().result())
        self.pool.shutdown()


def stream_archive(config, dump_dir, writer, leave_out=()):
    """tar.gz of dump_dir (arcname: its basename) written straight into the S3 writer, without
    the top-level folders named in leave_out (databases that must not be published)."""
    top = os.path.basename(dump_dir)
    skipped = {f"{top}/{name}" for name in leave_out}

    def keep(member):  # a folder left out is not descended into
        return None if member.name in skipped else member

    gz = ParallelGzipWriter(writer, config["compress_level"], config["compress_threads"])
    try:
        with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(dump_dir, arcname=top, filter=keep)
        gz.close()
    finally:
        gz.pool.shutdown(cancel_futures=True)


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
