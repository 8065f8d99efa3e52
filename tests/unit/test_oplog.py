"""mongo/oplog.py: keep_operation, the one rule of what an --oplog dump may publish (plain
operations by database, transactions' applyOps operation by operation), and filter_oplog on an
oplog.bson written here: the counts, and kept entries byte for byte as they were."""

import os

import bson
import pytest
from bson.int64 import Int64
from tasky_backup.base.errors import BackupError
from tasky_backup.formats.targz import filter_published_oplog
from tasky_backup.mongo.oplog import filter_oplog, folders_to_leave_out, keep_operation

TS = bson.Timestamp(1_700_000_000, 1)
KEEP = {"tasky"}.__contains__


def insert(ns, _id=1, **extra):
    return {"ts": TS, "t": Int64(1), "op": "i", "ns": ns, "o": {"_id": _id}, **extra}


def apply_ops(*ops):
    return {"ts": TS, "t": Int64(1), "op": "c", "ns": "admin.$cmd", "o": {"applyOps": list(ops), "lsid": {"id": 1}}}


def test_a_plain_operation_is_kept_or_dropped_by_its_database():
    kept = insert("tasky.todos")
    assert keep_operation(kept, KEEP) is kept
    assert keep_operation(insert("admin.system.users"), KEEP) is None
    assert keep_operation(insert("taskyx.todos"), KEEP) is None  # the database, not a prefix of it
    assert keep_operation({"op": "n", "ns": "", "o": {"msg": "periodic noop"}}, KEEP) is None
    assert keep_operation({"op": "c", "ns": "tasky.$cmd", "o": {"create": "todos"}}, KEEP)["ns"] == "tasky.$cmd"


def test_an_apply_ops_partly_kept_is_a_reduced_copy():
    ours, theirs = insert("tasky.todos", 1), insert("admin.system.users", "admin.x")
    entry = apply_ops(ours, theirs)
    reduced = keep_operation(entry, KEEP)
    assert reduced is not entry
    assert reduced == {**entry, "o": {"applyOps": [ours], "lsid": {"id": 1}}}
    assert entry["o"]["applyOps"] == [ours, theirs]  # the original is untouched


def test_an_apply_ops_all_kept_is_the_same_object():
    entry = apply_ops(insert("tasky.todos", 1), insert("tasky.users", 2))
    assert keep_operation(entry, KEEP) is entry


def test_an_apply_ops_none_kept_is_dropped():
    assert keep_operation(apply_ops(insert("admin.system.users"), insert("config.x")), KEEP) is None


def test_nested_apply_ops_are_reduced_too():
    inner = apply_ops(insert("tasky.todos", 1), insert("admin.system.users", 2))
    reduced = keep_operation(apply_ops(inner, insert("local.x")), KEEP)
    assert reduced["o"]["applyOps"] == [{**inner, "o": {**inner["o"], "applyOps": [insert("tasky.todos", 1)]}}]


def test_an_o_that_is_not_a_document_is_judged_by_the_namespace():
    assert keep_operation({"op": "c", "ns": "tasky.$cmd", "o": "odd"}, KEEP)["o"] == "odd"
    assert keep_operation({"op": "c", "ns": "admin.$cmd", "o": ["applyOps"]}, KEEP) is None
    assert keep_operation({"op": "c", "ns": "admin.$cmd", "o": {"applyOps": "not a list"}}, KEEP) is None


def test_filter_oplog_keeps_entries_byte_for_byte(tmp_path):
    entries = [
        insert("tasky.todos", 1, v=bson.Binary(b"\x01\x02", 4), wall=bson.Int64(5)),
        insert("admin.system.users", "admin.x", credentials="SECRET"),
        apply_ops(insert("tasky.todos", 2), insert("admin.system.users", "admin.y")),
        apply_ops(insert("tasky.users", 3)),
        {"ts": TS, "op": "n", "ns": "", "o": {"msg": "periodic noop"}},
    ]
    encoded = [bson.encode(entry) for entry in entries]
    (tmp_path / "oplog.bson").write_bytes(b"".join(encoded))
    assert filter_oplog(str(tmp_path), ["tasky"]) == (3, 2)
    written = (tmp_path / "oplog.bson").read_bytes()
    assert b"SECRET" not in written and b"admin.y" not in written
    docs = bson.decode_all(written)
    assert [doc["o"].get("_id") for doc in docs] == [1, None, None]
    assert docs[1]["o"]["applyOps"] == [insert("tasky.todos", 2)]
    assert written.startswith(encoded[0]) and written.endswith(encoded[3])  # kept whole: the same bytes
    assert not (tmp_path / "oplog.bson.kept").exists()


def test_filter_oplog_without_an_oplog_does_nothing(tmp_path):
    assert filter_oplog(str(tmp_path), ["tasky"]) == (0, 0)
    assert list(tmp_path.iterdir()) == []


def test_the_folders_left_out_are_the_other_databases(tmp_path):
    for name in ("admin", "config", "tasky", "other"):
        (tmp_path / name).mkdir()
    (tmp_path / "oplog.bson").write_bytes(b"")
    assert folders_to_leave_out(str(tmp_path), ["tasky"]) == ["admin", "config", "other"]


def test_dates_past_year_9999_pass_through_the_filter(tmp_path):
    """MongoDB stores dates Python's datetime cannot hold (new Date("10000-01-01")); an oplog
    entry carrying one is filtered like any other, and kept byte for byte."""
    far = bson.DatetimeMS(253402300800000)  # 10000-01-01T00:00:00Z
    entries = [insert("tasky.events", 1, at=far), insert("admin.system.users", 2, at=far)]
    encoded = [bson.encode(entry) for entry in entries]
    (tmp_path / "oplog.bson").write_bytes(b"".join(encoded))
    assert filter_oplog(str(tmp_path), ["tasky"]) == (1, 1)
    assert (tmp_path / "oplog.bson").read_bytes() == encoded[0]
    reduced = keep_operation(apply_ops(insert("tasky.todos", 1, at=far), insert("admin.x", 2)), KEEP)
    assert bson.decode(bson.encode(reduced), bson.CodecOptions(datetime_conversion=bson.DatetimeConversion.DATETIME_MS))


def test_the_filtered_copy_of_the_oplog_needs_room_first(settings_in, tmp_path):
    """The filtered oplog.bson is written beside the original, which the server's estimate did
    not count: with no room for a second copy the run is refused before writing it."""
    settings = settings_in(min_free_percent=0)
    os.makedirs(settings.work_dir)
    dump_dir = tmp_path / "dump"
    dump_dir.mkdir()
    oplog = dump_dir / "oplog.bson"
    fs = os.statvfs(settings.work_dir)
    with open(oplog, "wb") as handle:
        handle.truncate(fs.f_bavail * fs.f_frsize + (1 << 30))  # sparse: larger than the free space
    with pytest.raises(BackupError, match=r"the filtered copy of oplog\.bson needs about"):
        filter_published_oplog(settings, str(dump_dir), ["tasky"])
    assert sorted(os.listdir(dump_dir)) == ["oplog.bson"]  # no partial copy
    oplog.write_bytes(bson.encode(insert("tasky.todos")) + bson.encode(insert("other.todos")))
    filter_published_oplog(settings, str(dump_dir), ["tasky"])
    assert list(bson.decode_file_iter(open(oplog, "rb"))) == [insert("tasky.todos")]
