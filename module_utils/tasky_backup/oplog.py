"""What a whole-server dump with --oplog may publish.

`mongodump --oplog` cannot be limited to some databases, so the engine dumps the whole server
and keeps, in the public archive, only the databases it backs up: the other folders are left
out of the tar stream, and oplog.bson (every write made while the dump ran, on any namespace,
admin.system.users included when a password changes then) is rewritten to hold only the
operations on those databases, inside transactions (applyOps) too.
"""

import os

from .errors import BackupError


def database_of(namespace):
    return namespace.split(".", 1)[0]


def keep_operation(entry, databases):
    """The oplog entry reduced to the operations on `databases`; None when nothing is left."""
    inner = entry.get("o", {}).get("applyOps") if entry.get("op") == "c" else None
    if inner is not None:  # a transaction or applyOps: keep its operations on those databases
        kept = [op for op in (keep_operation(op, databases) for op in inner) if op is not None]
        if not kept:
            return None
        entry = dict(entry)
        entry["o"] = {**entry["o"], "applyOps": kept}
        return entry
    return entry if database_of(entry.get("ns", "")) in databases else None


def filter_oplog(dump_dir, databases):
    """Rewrites dump_dir/oplog.bson in place with only the operations on `databases`; returns
    (kept, dropped) entry counts."""
    path = os.path.join(dump_dir, "oplog.bson")
    if not os.path.exists(path):
        return 0, 0
    try:
        import bson
    except ImportError:
        raise BackupError(
            "pymongo's bson is needed to filter oplog.bson (the mongodb_backup role installs it)"
        ) from None
    # pymongo decodes BSON faithfully (Int64, Timestamp, Binary subtypes...), so what is kept
    # is written back as it was. One entry at a time: the oplog of a busy server can be large.
    kept = dropped = 0
    wanted = set(databases)
    with open(path, "rb") as handle, open(path + ".kept", "wb") as out:
        for entry in bson.decode_file_iter(handle):
            entry = keep_operation(entry, wanted)
            if entry is None:
                dropped += 1
            else:
                kept += 1
                out.write(bson.encode(entry))
    os.replace(path + ".kept", path)
    return kept, dropped


def folders_to_leave_out(dump_dir, databases):
    """Top-level folders of a whole-server dump that are not among `databases`."""
    folders = [name for name in os.listdir(dump_dir) if os.path.isdir(os.path.join(dump_dir, name))]
    return sorted(name for name in folders if name not in databases)
