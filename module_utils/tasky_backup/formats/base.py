"""What every format shares: the record of what a backup read back holds, and what a restore
runs mongorestore on. A format (formats/targz.py, formats/archive.py) is an object with:

    name, extension           "tar.gz" / "tar.gz", "archive" / "archive.gz"
    dumped(settings, names, answer, host)
                              a context manager yielding the Dump a backup uploads
    read_through(key, reader, public)
                              a Reading of a stored backup, read to its end (verify)
    room(size, dump_bytes)    (bytes, what) a restore of it needs in the work directory
    restorable(path, key, scratch)
                              a Restorable of a downloaded, checked backup
"""

import dataclasses
import logging
import os

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Reading:
    """A backup read through: how many members (files, or namespaces), the collections found,
    what is wrong; `archive` is the ArchiveFilter that read a mongodump archive."""

    members: int
    collections: list
    problems: list
    archive: object = None


@dataclasses.dataclass
class Restorable:
    """What mongorestore reads: its source arguments, the databases there and whether an oplog
    comes with them (`oplog_file`: the folder format's oplog.bson)."""

    source_args: list
    databases: list
    has_oplog: bool
    oplog_file: str = ""

    def leave_out_oplog(self):
        """A drill never replays an oplog: its entries name the real namespaces. The folder
        format's file is removed; an archive's oplog is replayed only with --oplogReplay, which
        the drill never passes."""
        if self.oplog_file and os.path.exists(self.oplog_file):
            os.unlink(self.oplog_file)
            LOG.info("the archive's oplog.bson is left out of the drill (it would replay into the real databases)")
