"""The archive format: `mongodump --archive` streamed through a filter that leaves the private
databases out (mongo/archive_stream.py) and gzip on every core straight into the upload, as
mongodb-backup-YYYYMMDD-HHMMSS.archive.gz; nothing is written to local disk. Restored with
`mongorestore --archive=FILE --gzip`."""

import contextlib
import gzip
import logging

from ..base.errors import BackupError
from ..base.settings import PRIVATE_DATABASES
from ..mongo.archive_stream import ArchiveFilter
from ..mongo.facts import archive_facts
from ..mongo.tools import mongodump_archive_command, stream_tool, tool_version
from ..s3.keys import EXTENSIONS
from .base import Reading, Restorable
from .gzip import gzip_stream

LOG = logging.getLogger(__name__)


class ArchiveDump:
    """mongodump --archive of `databases` (only those pass the filter; the oplog too), written
    as it streams: the size is the server's estimate until it is done."""

    estimated = True
    phase = "mongodump --archive to S3"

    def __init__(self, settings, databases, estimate, host):
        self.settings, self.databases, self.total, self.host = settings, list(databases), estimate, host
        self.dump_bytes, self.facts, self.progress_lines = None, None, []

    def write(self, out, progress):
        settings, wanted = self.settings, set(self.databases)
        cmd = mongodump_archive_command(settings, self.databases)
        where = f"{settings.mongodb_host}:{settings.mongodb_port} as {settings.mongodb_user}"
        LOG.info("mongodump --archive of %s on %s", ", ".join(self.databases) or "the whole server", where)
        with gzip_stream(out, settings) as gz:
            archive = ArchiveFilter(gz, wanted.__contains__)
            stream_tool(settings, "mongodump", cmd, archive, progress)
            archive.close()
        # What the archive holds (the namespaces left out not counted), recorded with the checksum.
        self.dump_bytes = archive.bytes_out
        if archive.dropped:
            left_out = sorted({db for db, _collection in archive.dropped})
            LOG.info("left out of the archive: %s (%d namespaces)", ", ".join(left_out), len(archive.dropped))
        self.facts = archive_facts(archive, {"mongodump": tool_version(settings.mongodump_path)}, self.host)
        if not any(db for db, _collection in archive.namespaces):  # the upload is aborted: never latest
            raise BackupError(
                f"mongodump wrote nothing: the databases {', '.join(self.databases)} are empty or missing"
            )

    def users(self):
        """Users and roles: `mongodump --db=admin --archive`, streamed like the backup."""
        return ArchiveDump(self.settings.replace(oplog=False), ["admin"], 0, self.host)


class Archive:
    name = "archive"
    extension = EXTENSIONS[name]

    @contextlib.contextmanager
    def dumped(self, settings, names, answer, host):
        LOG.info("archive format: mongodump --archive streamed to S3, nothing written to local disk")
        yield ArchiveDump(settings, answer.databases, answer.estimate, host)

    def read_through(self, key, reader, public=True):
        """Every namespace and document of a gzipped mongodump archive, read to its end (each
        document's length checked, nothing decoded but the headers)."""
        archive = ArchiveFilter()
        try:
            with gzip.GzipFile(fileobj=reader, mode="rb") as gz:
                for chunk in iter(lambda: gz.read(1 << 20), b""):
                    archive.write(chunk)
            archive.close()
        except (OSError, EOFError, BackupError) as exc:
            raise BackupError(f"{key} is not a readable gzipped mongodump archive: {exc}") from None
        names = sorted(".".join(ns) for ns in archive.namespaces if ns[0])
        problems = [f"{name}: no end-of-collection marker" for name in archive.unfinished()]
        private = sorted(name for name in names if name.split(".", 1)[0] in PRIVATE_DATABASES)
        if public and private:
            problems.append(f"the archive holds private namespaces: {', '.join(private)}")
        if not names:
            problems.append("the archive holds no collection")
        return Reading(len(archive.namespaces), names, problems, archive)

    def room(self, size, dump_bytes):
        """Only the download: mongorestore reads the archive as it is."""
        return size, "archive"

    def restorable(self, path, key, scratch):
        """The downloaded archive, read through first (a damaged one fails here, naming what is
        wrong, before anything is restored)."""
        with open(path, "rb") as stream:
            reading = self.read_through(key, stream, public=False)
        if reading.problems:
            raise BackupError(f"{key} cannot be restored: {'; '.join(reading.problems)}")
        databases = sorted({name.split(".", 1)[0] for name in reading.collections})
        return Restorable([f"--archive={path}", "--gzip"], databases, reading.archive.has_oplog())
