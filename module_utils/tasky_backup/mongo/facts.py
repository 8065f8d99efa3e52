"""What a dump holds, read from the dump directory itself right after mongodump (or, in the
archive format, from the archive as it streams past: archive_facts): the databases,
per collection the number of documents and the index names, and the tool's version. Recorded with
each backup (its signed manifest, s3/manifest.py) so the catalogue and a later restore drill can say
what the backup held at dump time without unpacking it.

Documents are counted without decoding them: a .bson file is BSON documents back to back, each
starting with its own length as a 4-byte little-endian integer (bsonspec.org), so counting is
walking those prefixes. Index names come from <collection>.metadata.json (indexes[].name).
"""

import json
import logging
import os
import struct
from urllib.parse import unquote

LOG = logging.getLogger(__name__)

FORMAT = 1
MIN_DOCUMENT = 5  # an empty BSON document: 4 bytes of length and the final NUL


class DumpFileError(ValueError):
    """A .bson file that is not whole documents back to back."""


def count_documents(path):
    """The number of BSON documents in a .bson file, by walking their length prefixes (read 4
    bytes, skip the rest: the file is never mapped or read whole, so a big dump costs the run no
    memory); raises DumpFileError when a length runs past the end of the file (a truncated file)."""
    size = os.path.getsize(path)
    count = offset = 0
    with open(path, "rb") as handle:
        while offset < size:
            if size - offset < MIN_DOCUMENT:
                raise DumpFileError(f"{size - offset} stray byte(s) at the end, after {count} document(s)")
            handle.seek(offset)
            (length,) = struct.unpack("<i", handle.read(4))
            if length < MIN_DOCUMENT or offset + length > size:
                raise DumpFileError(
                    f"document {count + 1} at byte {offset} claims {length} bytes, the file has {size - offset} left"
                )
            offset += length
            count += 1
    return count


def index_names(path):
    """indexes[].name of a mongodump <collection>.metadata.json, and the collection's real name
    and type as recorded there (file names of odd collection names are escaped)."""
    with open(path, encoding="utf-8") as handle:
        meta = json.load(handle)
    names = [index.get("name", "") for index in meta.get("indexes") or [] if isinstance(index, dict)]
    return meta.get("collectionName"), meta.get("type", "collection"), names


def collections_of(db_dir):
    """{collection: {"documents": n, "indexes": [...]}} of one database folder of a dump, and the
    problems met (a truncated .bson, unreadable metadata)."""
    found, problems = {}, []
    stems = {}
    for name in sorted(os.listdir(db_dir)):
        for suffix in (".metadata.json", ".bson"):
            if name.endswith(suffix):
                stems.setdefault(name[: -len(suffix)], set()).add(suffix)
    for stem, suffixes in sorted(stems.items()):
        collection, kind, indexes, documents = unquote(stem), "collection", [], None
        if ".metadata.json" in suffixes:
            try:
                real, kind, indexes = index_names(os.path.join(db_dir, stem + ".metadata.json"))
                collection = real or collection
            except (OSError, ValueError) as exc:
                problems.append(f"{stem}.metadata.json is unreadable: {exc}")
        if ".bson" in suffixes:
            path = os.path.join(db_dir, stem + ".bson")
            try:
                documents = count_documents(path)
            except (OSError, DumpFileError) as exc:
                problems.append(f"{stem}.bson: {exc}")
        entry = {"documents": documents, "indexes": indexes}
        if kind != "collection":
            entry["type"] = kind  # a view has metadata and no documents
        found[collection] = entry
    return found, problems


def dump_facts(dump_dir, tools, host, leave_out=()):
    """The facts of one dump directory, for the catalogue (tools: {"mongodump": its version});
    never raises (they are a record, not a
    check: a problem is written down in them and logged, and the backup goes on)."""
    facts = {"format": FORMAT, "host": host, "tools": dict(tools), "databases": {}, "problems": []}
    try:
        for name in sorted(os.listdir(dump_dir)):
            path = os.path.join(dump_dir, name)
            if name in leave_out or not os.path.isdir(path):
                continue  # private databases are not in the archive; oplog.bson is not a database
            collections, problems = collections_of(path)
            facts["databases"][name] = collections
            facts["problems"] += [f"{name}/{problem}" for problem in problems]
    except Exception as exc:  # noqa: BLE001 - a record of the dump must never fail the backup
        facts["problems"].append(f"could not read the dump directory: {type(exc).__name__}: {exc}")
    for problem in facts["problems"]:
        LOG.warning("dump facts: %s", problem)
    return facts


def archive_facts(archive, tools, host):
    """The facts of a mongodump archive as it streamed past (archive_stream.ArchiveFilter): the
    same record as dump_facts, read from the archive itself: document counts from its segments,
    index names from its prelude (the collections' metadata, as in metadata.json). Never raises."""
    facts = {"format": FORMAT, "host": host, "tools": dict(tools), "databases": {}, "problems": []}
    try:
        facts["databases"] = archive.databases()
        facts["problems"] += [f"{name}: no end-of-collection marker in the archive" for name in archive.unfinished()]
    except Exception as exc:  # noqa: BLE001 - a record of the dump must never fail the backup
        facts["problems"].append(f"could not read the archive's facts: {type(exc).__name__}: {exc}")
    for problem in facts["problems"]:
        LOG.warning("dump facts: %s", problem)
    return facts
