"""mongo/archive_stream.py: ArchiveFilter on mongodump archives built here to mongo-tools' own
layout (common/archive/spec.md): magic 0x8199e26d, a header, the prelude's collection metadata,
a terminator, then namespace segments (header, documents, terminator), each namespace ending with
an EOF header carrying the CRC-64 (ECMA, as Go's hash/crc64) of its documents.

It counts documents, reads index names and types, drops the left-out databases' prelude entries
and segments while passing the rest byte for byte, filters the oplog entry by entry and rewrites
its CRC, and refuses what is not a whole archive."""

import io
import json
import struct

import bson
import pytest
from bson.int64 import Int64
from tasky_backup.base.errors import BackupError
from tasky_backup.mongo.archive_stream import ArchiveFilter, crc64, signed64

MAGIC = struct.pack("<I", 0x8199E26D)
END = struct.pack("<i", -1)
HEADER = {"concurrent_collections": 4, "version": "0.1", "server_version": "7.0.14", "tool_version": "100.11.0"}
TS = bson.Timestamp(1_700_000_000, 1)
OPLOG = ("", "oplog")


def metadata(name, indexes, kind="collection"):
    """A collection's metadata as mongodump writes it into the prelude: Extended JSON text."""
    return json.dumps(
        {
            "indexes": [{"v": {"$numberInt": "2"}, "key": {key: {"$numberInt": "1"}}, "name": n} for n, key in indexes],
            "collectionName": name,
            "type": kind,
        }
    )


def build(prelude, segments, eof=True):
    """An archive: prelude [(db, collection, indexes [(name, key)], type)], then segments [(db,
    collection, [document bytes])] in the order given, then each namespace's EOF header."""
    parts = [MAGIC, bson.encode(HEADER)]
    for db, name, indexes, kind in prelude:
        meta = "" if (db, name) == OPLOG else metadata(name, indexes, kind)
        parts.append(bson.encode({"db": db, "collection": name, "metadata": meta, "size": 0, "type": kind}))
    parts.append(END)
    crcs = {}
    for db, name, docs in segments:
        parts += [bson.encode({"db": db, "collection": name, "EOF": False, "CRC": Int64(0)}), *docs, END]
        for doc in docs:
            crcs[(db, name)] = crc64(crcs.get((db, name), 0), doc)
    for (db, name), crc in crcs.items() if eof else ():
        parts += [bson.encode({"db": db, "collection": name, "EOF": True, "CRC": Int64(signed64(crc))}), END]
    return b"".join(parts)


def segments_of(data):
    """[(namespace header, [document bytes])] of an archive, read here from the spec alone."""
    assert data[:4] == MAGIC
    pos = 4 + struct.unpack_from("<i", data, 4)[0]
    while struct.unpack_from("<i", data, pos)[0] != -1:  # the prelude
        pos += struct.unpack_from("<i", data, pos)[0]
    pos += 4
    found = []
    while pos < len(data):
        (length,) = struct.unpack_from("<i", data, pos)
        head, pos, body = bson.decode(data[pos : pos + length]), pos + length, []
        while (length := struct.unpack_from("<i", data, pos)[0]) != -1:
            body.append(data[pos : pos + length])
            pos += length
        found.append((head, body))
        pos += 4
    return found


def docs(count, start=0, size=10):
    return [bson.encode({"_id": start + i, "x": "y" * size}) for i in range(count)]


def oplog_entry(ns, _id, **extra):
    return {"ts": TS, "t": Int64(1), "op": "i", "ns": ns, "o": {"_id": _id}, **extra}


TODOS, USERS = docs(5), docs(2, start=100)
ADMIN_USERS = [bson.encode({"_id": "admin.root", "credentials": {"SCRAM-SHA-256": "SECRET"}})]
PRELUDE = [
    ("tasky", "todos", [("_id_", "_id"), ("n_1", "n")], "collection"),
    ("tasky", "users", [("_id_", "_id")], "collection"),
    ("tasky", "open_todos", [], "view"),
    ("admin", "system.users", [("_id_", "_id"), ("user_1_db_1", "user")], "collection"),
]
SEGMENTS = [
    ("tasky", "todos", TODOS[:3]),
    ("admin", "system.users", ADMIN_USERS),
    ("tasky", "users", USERS),
    ("tasky", "todos", TODOS[3:]),  # interleaved: a second segment of todos
]
KEEP = {"tasky"}.__contains__


def run(data, keep=KEEP, piece=None):
    """(the filter, what it wrote) after data went through it, whole or in pieces."""
    out = io.BytesIO()
    archive = ArchiveFilter(out, keep=keep)
    piece = piece or len(data) or 1
    for start in range(0, len(data), piece):
        archive.write(data[start : start + piece])
    archive.close()
    return archive, out.getvalue()


def test_crc64_is_go_crc64_ecma():
    assert crc64(0, b"123456789") == 0x995DC9BBDF1939FA  # CRC-64/XZ, Go's crc64.ECMA check value
    assert crc64(crc64(0, b"1234"), b"56789") == crc64(0, b"123456789")  # it continues a CRC
    assert crc64(0, b"") == 0
    assert signed64(0x995DC9BBDF1939FA) == 0x995DC9BBDF1939FA - (1 << 64) < 0
    assert signed64(5) == 5 and signed64((1 << 63) - 1) == (1 << 63) - 1 and signed64(1 << 63) == -(1 << 63)


def test_it_counts_documents_and_reads_indexes_and_types():
    archive, _ = run(build(PRELUDE, SEGMENTS), keep=lambda db: True)
    assert archive.databases() == {
        "admin": {"system.users": {"documents": 1, "indexes": ["_id_", "user_1_db_1"]}},
        "tasky": {
            "open_todos": {"documents": None, "indexes": [], "type": "view"},
            "todos": {"documents": 5, "indexes": ["_id_", "n_1"]},
            "users": {"documents": 2, "indexes": ["_id_"]},
        },
    }
    assert archive.header == HEADER and not archive.has_oplog() and archive.unfinished() == []


def test_everything_kept_passes_byte_for_byte():
    data = build(PRELUDE, SEGMENTS)
    archive, out = run(data, keep=lambda db: True)
    assert out == data and archive.bytes_in == archive.bytes_out == len(data) and archive.dropped == set()


@pytest.mark.parametrize("piece", [None, 1, 7, 97])
def test_the_admin_database_is_left_out_and_the_rest_passes_untouched(piece):
    archive, out = run(build(PRELUDE, SEGMENTS), piece=piece)
    without_admin = build(
        [p for p in PRELUDE if p[0] != "admin"], [s for s in SEGMENTS if s[0] != "admin"]
    )  # the same archive, as if admin had never been dumped
    assert out == without_admin
    assert b"SECRET" not in out and b"system.users" not in out
    assert archive.dropped == {("admin", "system.users")}
    assert set(archive.databases()) == {"tasky"} and archive.databases()["tasky"]["todos"]["documents"] == 5


def test_without_an_out_it_only_reads():
    archive = ArchiveFilter(keep=KEEP)
    archive.write(build(PRELUDE, SEGMENTS))
    archive.close()
    assert archive.bytes_out == 0 and archive.databases()["tasky"]["users"]["documents"] == 2


OPLOG_ENTRIES = [
    oplog_entry("tasky.todos", 1000),
    oplog_entry("admin.system.users", "admin.x", credentials="SECRET-1"),
    {
        "ts": TS,
        "t": Int64(1),
        "op": "c",
        "ns": "admin.$cmd",
        "o": {"applyOps": [oplog_entry("tasky.todos", 1001), oplog_entry("admin.system.users", "SECRET-2")]},
    },
    {"ts": TS, "t": Int64(1), "op": "n", "ns": "", "o": {"msg": "periodic noop"}},
    oplog_entry("tasky.users", 1002),
]


def oplog_archive(first, second):
    """The tasky and admin archive of PRELUDE/SEGMENTS with two oplog segments."""
    prelude = [*PRELUDE, ("", "oplog", [], "")]
    encoded = ([bson.encode(e) for e in first], [bson.encode(e) for e in second])
    return build(prelude, [*SEGMENTS, ("", "oplog", encoded[0]), ("", "oplog", encoded[1])]), encoded


def test_the_oplog_is_filtered_entry_by_entry_and_its_crc_rewritten():
    data, (first, second) = oplog_archive(OPLOG_ENTRIES[:4], OPLOG_ENTRIES[4:])
    archive, out = run(data, piece=53)
    reduced = {**OPLOG_ENTRIES[2], "o": {"applyOps": [oplog_entry("tasky.todos", 1001)]}}
    passed = [first[0], bson.encode(reduced), second[0]]
    expected = build(
        [*PRELUDE[:3], ("", "oplog", [], "")],
        [s for s in SEGMENTS if s[0] != "admin"] + [("", "oplog", passed[:2]), ("", "oplog", passed[2:])],
    )
    assert out == expected  # entries kept whole pass byte for byte; the EOF CRC is that of what passed
    assert b"SECRET" not in out
    assert archive.oplog_dropped == 2 and archive.has_oplog()
    assert archive.namespaces[OPLOG]["documents"] == 3 and archive.namespaces[OPLOG]["eof"]
    assert "" not in archive.databases()  # the oplog is not a database
    crc = 0
    for entry in passed:
        crc = crc64(crc, entry)
    (eof,) = [head for head, _ in segments_of(out) if head["collection"] == "oplog" and head["EOF"]]
    assert eof == {"db": "", "collection": "oplog", "EOF": True, "CRC": signed64(crc)}
    (was,) = [head for head, _ in segments_of(data) if head["collection"] == "oplog" and head["EOF"]]
    assert was["CRC"] != eof["CRC"]  # mongodump's CRC was of every entry


def test_an_oplog_segment_with_nothing_kept_is_left_out_whole():
    data, _ = oplog_archive(OPLOG_ENTRIES[:4], [OPLOG_ENTRIES[1]])
    archive, out = run(data)
    segment_headers = out.count(bson.encode({"db": "", "collection": "oplog", "EOF": False, "CRC": Int64(0)}))
    assert segment_headers == 1 and archive.oplog_dropped == 3 and archive.namespaces[OPLOG]["documents"] == 2


def test_a_truncated_stream_fails_close_with_a_clear_message():
    data = build(PRELUDE, SEGMENTS)
    archive = ArchiveFilter(io.BytesIO(), keep=KEEP)
    archive.write(data[: data.index(TODOS[4]) + 6])  # cut in the middle of a document
    with pytest.raises(BackupError, match=r"^the mongodump archive ended early \(in its body, 6 bytes left over\)$"):
        archive.close()
    archive = ArchiveFilter(keep=KEEP)
    archive.write(data[: len(MAGIC) + 10])
    with pytest.raises(BackupError, match=r"ended early \(in its header, 10 bytes left over\)"):
        archive.close()
    archive = ArchiveFilter(keep=KEEP)
    archive.write(data[:2])
    with pytest.raises(BackupError, match=r"ended early \(in its magic, 2 bytes left over\)"):
        archive.close()


def test_an_archive_without_eof_headers_names_the_unfinished_namespaces():
    archive, _ = run(build(PRELUDE, SEGMENTS, eof=False))  # whole segments: close() cannot tell
    assert archive.unfinished() == ["tasky.todos", "tasky.users"]


def test_a_stream_without_the_magic_number_is_refused():
    with pytest.raises(BackupError, match=r"the stream is not a mongodump archive \(no magic number\)"):
        ArchiveFilter(io.BytesIO()).write(b"\x1f\x8b\x08\x00" + bson.encode(HEADER))


def test_a_document_length_out_of_bounds_is_refused():
    data = build(PRELUDE, SEGMENTS)
    first = data.index(TODOS[0])
    broken = data[:first] + struct.pack("<i", 3) + data[first + 4 :]
    with pytest.raises(BackupError, match=r"a document of 3 bytes in tasky\.todos"):
        ArchiveFilter(io.BytesIO()).write(broken)


def test_the_rewritten_oplog_crc_is_an_int64_as_mongodump_writes_it():
    """Even a CRC that fits 32 bits (0 when every entry is dropped) is written as BSON int64
    (type 0x12), like mongodump's own EOF headers; and a far-future date in the oplog passes."""
    far = {**oplog_entry("tasky.todos", 7), "at": bson.DatetimeMS(253402300800000)}
    data, _ = oplog_archive([OPLOG_ENTRIES[1]], [far])
    _archive, out = run(data)
    (raw,) = [raw for raw in raw_headers(out) if b"oplog" in raw and bson.decode(raw)["EOF"]]
    assert b"\x12CRC\x00" in raw  # int64 element named CRC
    dropped_all, _ = oplog_archive([OPLOG_ENTRIES[1]], [OPLOG_ENTRIES[1]])
    _archive, out = run(dropped_all)
    assert all(b"\x12CRC\x00" in raw for raw in raw_headers(out))


def raw_headers(data):
    """The raw BSON of every namespace header of an archive (after the prelude's terminator)."""
    view, pos, found, in_body = memoryview(data), len(MAGIC), [], False
    pos += struct.unpack_from("<i", data, pos)[0]  # the header
    while struct.unpack_from("<i", data, pos)[0] != -1:  # the prelude
        pos += struct.unpack_from("<i", data, pos)[0]
    pos += 4
    while pos < len(data):
        (length,) = struct.unpack_from("<i", data, pos)
        if length == -1:
            in_body, pos = False, pos + 4
            continue
        if not in_body:
            found.append(bytes(view[pos : pos + length]))
            in_body = True
        pos += length
    return found
