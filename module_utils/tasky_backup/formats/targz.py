"""The tar.gz format (the default, the seed's): mongodump's folders, dumped to the work
directory, packed as mongodb-backup-YYYYMMDD-HHMMSS/<db>/<collection>.bson|.metadata.json and
gzipped on every core into the upload; restored with `tar -xzf`, then mongorestore on the folder.
Needs the dump's size free in the work directory."""

import contextlib
import gzip
import logging
import os
import tarfile
import threading

from ..base.errors import BackupError
from ..base.files import scratch_dir
from ..base.progress import Progress
from ..base.space import check_free_space
from ..mongo.facts import dump_facts
from ..mongo.oplog import filter_oplog, folders_to_leave_out
from ..mongo.tools import run_mongodump, tool_version
from ..s3.keys import EXTENSIONS
from .base import Reading, Restorable
from .gzip import CountingReader, gzip_stream

LOG = logging.getLogger(__name__)


class FolderDump:
    """A dump folder, uploaded as the tar.gz of it without the top-level folders in leave_out
    (databases that must not be published)."""

    estimated = False

    def __init__(self, settings, scratch, dump_dir, leave_out, dump_bytes, facts=None, lines=()):
        self.settings, self.scratch, self.dump_dir = settings, scratch, dump_dir
        self.leave_out, self.dump_bytes, self.facts = leave_out, dump_bytes, facts
        self.total, self.phase, self.progress_lines = dump_bytes, "tar.gz to S3", list(lines)

    def write(self, out, progress):
        """tar.gz of the dump folder (arcname: its basename) into out."""
        top = os.path.basename(self.dump_dir)
        skipped = {f"{top}/{name}" for name in self.leave_out}
        with (
            gzip_stream(out, self.settings) as gz,
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            for root, dirs, files in os.walk(self.dump_dir):
                dirs.sort()
                arcroot = top + root[len(self.dump_dir) :]
                if arcroot in skipped:  # a folder left out is not descended into
                    dirs.clear()
                    continue
                tar.add(root, arcname=arcroot, recursive=False)
                for name in sorted(files):
                    path = os.path.join(root, name)
                    info = tar.gettarinfo(path, arcname=f"{arcroot}/{name}")
                    with open(path, "rb") as handle:
                        tar.addfile(info, CountingReader(handle, progress.read))

    def users(self):
        """Users and roles (the admin database) as a dump of their own: with --oplog the whole
        server, admin included, is in this dump already; else a mongodump of admin."""
        source = self.dump_dir
        if not self.settings.oplog:
            source = os.path.join(self.scratch, "users", os.path.basename(self.dump_dir))
            run_mongodump(self.settings, source, ["admin"])
        others = [name for name in os.listdir(source) if name != "admin"]
        _files, dump_bytes = dump_summary(os.path.join(source, "admin"))
        return FolderDump(self.settings, self.scratch, source, others, dump_bytes)


def filter_published_oplog(settings, dump_dir, databases):
    """oplog.bson with only the operations on the databases published. The filtered copy is
    written beside the original before it replaces it: room for it is checked first, since the
    oplog mongodump captured is not in the server's estimate."""
    oplog = os.path.join(dump_dir, "oplog.bson")
    if os.path.exists(oplog):
        check_free_space(settings, os.path.getsize(oplog), "the filtered copy of oplog.bson")
    kept, dropped = filter_oplog(dump_dir, databases)
    LOG.info("oplog.bson: %d entries kept, %d on other databases left out", kept, dropped)


class TarGz:
    name = "tar.gz"
    extension = EXTENSIONS[name]

    @contextlib.contextmanager
    def dumped(self, settings, names, answer, host):
        """mongodump to a scratch folder of the work directory (removed on leaving), what must
        not be published left out, the oplog filtered, the facts read: a FolderDump."""
        check_free_space(settings, answer.estimate)
        with scratch_dir(settings.work_dir, "run-") as scratch:
            dump_dir = os.path.join(scratch, names.name)
            with Progress("mongodump to disk", answer.estimate, True, settings.progress_log_s) as progress:
                watch = threading.Thread(target=watch_folder, args=(dump_dir, progress), daemon=True)
                watch.start()
                try:
                    run_mongodump(settings, dump_dir, answer.databases)
                finally:
                    progress.stopped.set()
                    watch.join()
            files, dump_bytes = dump_summary(dump_dir)
            if files == 0:
                raise BackupError(
                    f"mongodump wrote nothing: the databases {', '.join(answer.databases)} are empty or missing"
                )
            LOG.info("dump done: %d files, %d bytes", files, dump_bytes)
            # Only the databases backed up are published: with --oplog the dump holds the whole
            # server (admin's users included), so the rest is left out and the oplog filtered.
            leave_out = folders_to_leave_out(dump_dir, answer.databases)
            if settings.oplog:
                filter_published_oplog(settings, dump_dir, answer.databases)
            if leave_out:
                LOG.info("left out of the archive: %s", ", ".join(leave_out))
                # What the archive holds (a restore unpacks this much), not the whole server.
                _files, dump_bytes = dump_summary(dump_dir, leave_out)
                LOG.info("published: %d bytes of the dump", dump_bytes)
            tools = {"mongodump": tool_version(settings.mongodump_path)}
            facts = dump_facts(dump_dir, tools, host, leave_out=leave_out)
            yield FolderDump(settings, scratch, dump_dir, leave_out, dump_bytes, facts, progress.lines)

    def read_through(self, key, reader, public=True):
        try:
            with gzip.GzipFile(fileobj=reader, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
                members = [m.name for m in tar]
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"{key} is not a readable tar.gz: {exc}") from None
        bson = sorted(m for m in members if m.endswith(".bson"))
        return Reading(len(members), bson, [] if bson else ["the archive holds no .bson file"])

    def room(self, size, dump_bytes):
        """The archive is downloaded, then unpacked: the archive and the dump."""
        return size + (dump_bytes or 0), "archive and dump"

    def restorable(self, path, key, scratch):
        """Unpacks the downloaded archive (then removes it: the dump alone from here on, half
        the disk) into scratch; mongorestore runs on the one mongodb-backup-* folder."""
        dest = os.path.join(scratch, "dump")
        with open(path, "rb") as stream:
            unpack(stream, key, dest)
        os.unlink(path)
        tops = os.listdir(dest)
        if len(tops) != 1:
            raise BackupError(f"{key} should unpack to one mongodb-backup-* folder, found {tops}")
        dump_dir = os.path.join(dest, tops[0])
        databases = sorted(name for name in os.listdir(dump_dir) if os.path.isdir(os.path.join(dump_dir, name)))
        oplog = os.path.join(dump_dir, "oplog.bson")
        return Restorable([f"--dir={dump_dir}"], databases, os.path.exists(oplog), oplog)


def watch_folder(path, progress, every_s=2.0):
    """Feeds the size of the folder mongodump is writing to the progress, until it stops."""
    seen = 0
    while not progress.stopped.wait(every_s):
        _files, size = dump_summary(path) if os.path.isdir(path) else (0, 0)
        progress.read(size - seen)
        seen = size


def dump_summary(dump_dir, leave_out=()):
    """(files, bytes) of a dump folder, without its top-level folders named in leave_out."""
    files, size = 0, 0
    for root, dirs, names in os.walk(dump_dir):
        if root == dump_dir:
            dirs[:] = [d for d in dirs if d not in leave_out]
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    return files, size


def safe_member(member):
    name = member.name
    return (member.isfile() or member.isdir()) and not name.startswith("/") and ".." not in name.split("/")


# Python's own extraction filter (tarfile's "data": no absolute path, nothing outside dest, no
# link out, no device, no setuid bit), where this Python has it (3.12, and the 3.9.17+ updates).
DATA_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
FILTER_ERROR = getattr(tarfile, "FilterError", tarfile.TarError)


def unpack(stream, key, dest):
    """Unpacks a tar.gz stream into dest: each member checked first (a plain file or directory,
    no absolute path, no '..'; anything else is refused, naming it), then extracted through
    Python's data filter."""
    with gzip.GzipFile(fileobj=stream, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        for member in tar:
            if not safe_member(member):
                raise BackupError(f"{key} holds an unsafe member, refused: {member.name}")
            try:
                tar.extract(member, dest, **DATA_FILTER)
            except FILTER_ERROR as exc:
                raise BackupError(f"{key} holds an unsafe member, refused: {member.name} ({exc})") from None
