"""What a whole-server dump with --oplog may publish.

`mongodump --oplog` cannot be limited to some databases, so the engine dumps the whole server
and keeps, in the public archive, only the databases it backs up: the other folders are left
out of the tar stream (or out of the archive stream, mongo/archive_stream.py), and the oplog
(every write made while the dump ran, on any namespace, admin.system.users included when a
password changes then) is reduced to the operations on those databases, inside transactions
(applyOps) too. One rule for both formats: keep_operation.
"""

import os


def keep_operation(entry, keep):
    """An oplog entry reduced to the operations on databases keep(db) accepts (inside applyOps
    too), the entry itself when all of it stays, or None."""
    inner = entry.get("o", {}).get("applyOps") if entry.get("op") == "c" and isinstance(entry.get("o"), dict) else None
    if isinstance(inner, list):
        kept = [keep_operation(op, keep) for op in inner]
        if all(k is op for k, op in zip(kept, inner)):
            return entry
        kept = [k for k in kept if k is not None]
        if not kept:
            return None
        return {**entry, "o": {**entry["o"], "applyOps": kept}}
    return entry if keep(str(entry.get("ns", "")).split(".", 1)[0]) else None


def decode_entry(raw):
    """An oplog entry from its BSON bytes. Dates stay readable even outside Python's years 1 to
    9999 (MongoDB stores them: `new Date("10000-01-01")`), as bson.DatetimeMS."""
    import bson  # pymongo's, in the engine's venv
    from bson.codec_options import CodecOptions, DatetimeConversion

    return bson.decode(raw, CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO))


def filter_oplog(dump_dir, databases):
    """Rewrites dump_dir/oplog.bson in place with only the operations on `databases`; returns
    (kept, dropped) entry counts."""
    path = os.path.join(dump_dir, "oplog.bson")
    if not os.path.exists(path):
        return 0, 0
    import bson  # pymongo's, in the engine's venv
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument

    # pymongo decodes BSON faithfully (Int64, Timestamp, Binary subtypes...), so what is kept
    # is written back as it was. One entry at a time: the oplog of a busy server can be large.
    kept = dropped = 0
    wanted = set(databases)
    with open(path, "rb") as handle, open(path + ".kept", "wb") as out:
        for raw in bson.decode_file_iter(handle, CodecOptions(document_class=RawBSONDocument)):
            entry = decode_entry(raw.raw)
            reduced = keep_operation(entry, wanted.__contains__)
            if reduced is None:
                dropped += 1
            else:
                kept += 1
                out.write(raw.raw if reduced is entry else bson.encode(reduced))
    os.replace(path + ".kept", path)
    return kept, dropped


def folders_to_leave_out(dump_dir, databases):
    """Top-level folders of a whole-server dump that are not among `databases`."""
    folders = [name for name in os.listdir(dump_dir) if os.path.isdir(os.path.join(dump_dir, name))]
    return sorted(name for name in folders if name not in databases)
