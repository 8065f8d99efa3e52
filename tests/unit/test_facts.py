"""mongo/facts.py: what a dump holds, read from the dump folder itself: documents counted by their
length prefixes (a truncated .bson raises DumpFileError), index names, real names and types from
the metadata.json files, and dump_facts, which never raises."""

import json

import bson
import pytest
from tasky_backup.mongo.facts import DumpFileError, collections_of, count_documents, dump_facts


def write_bson(path, count):
    body = b"".join(bson.encode({"_id": i, "v": "x" * i}) for i in range(count))
    path.write_bytes(body)
    return body


def write_metadata(path, name, indexes=("_id_",), kind=None):
    meta = {"indexes": [{"v": 2, "key": {"_id": 1}, "name": index} for index in indexes], "collectionName": name}
    if kind:
        meta["type"] = kind
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("count", [0, 1, 25])
def test_count_documents_agrees_with_a_full_decode(tmp_path, count):
    body = write_bson(tmp_path / "todos.bson", count)
    assert count_documents(tmp_path / "todos.bson") == len(bson.decode_all(body)) == count


def test_a_truncated_bson_raises_dump_file_error(tmp_path):
    path = tmp_path / "todos.bson"
    body = write_bson(path, 25)
    path.write_bytes(body[:-7])
    with pytest.raises(DumpFileError, match=r"^document 25 at byte \d+ claims \d+ bytes, the file has \d+ left$"):
        count_documents(path)
    path.write_bytes(body[:-1])  # one byte short is short
    with pytest.raises(DumpFileError, match=r"^document 25 at byte \d+ claims \d+ bytes"):
        count_documents(path)
    path.write_bytes(body + b"\x01\x02")
    with pytest.raises(DumpFileError, match=r"2 stray byte\(s\) at the end, after 25 document\(s\)"):
        count_documents(path)
    path.write_bytes(b"\x00\x00\x00\x00\x00")
    with pytest.raises(DumpFileError, match="document 1 at byte 0 claims 0 bytes"):
        count_documents(path)


def dump_folder(tmp_path):
    """A dump laid out as mongodump writes it: <dump>/<db>/<collection>.bson and .metadata.json."""
    dump = tmp_path / "mongodb-backup-20261125-020000"
    tasky = dump / "tasky"
    tasky.mkdir(parents=True)
    write_bson(tasky / "todos.bson", 25)
    write_metadata(tasky / "todos.metadata.json", "todos", ("_id_", "n_1"))
    write_bson(tasky / "users.bson", 2)
    write_metadata(tasky / "users.metadata.json", "users")
    write_metadata(tasky / "open_todos.metadata.json", "open_todos", (), kind="view")  # a view: no .bson
    write_bson(tasky / "a%2Fb.bson", 3)  # a collection name mongodump escapes
    write_bson(tasky / "odd%24name.bson", 1)
    write_metadata(tasky / "odd%24name.metadata.json", "odd$name")
    (dump / "admin").mkdir()
    write_bson(dump / "admin" / "system.users.bson", 1)
    (dump / "oplog.bson").write_bytes(bson.encode({"ts": 1}))  # not a database
    return dump


def test_collections_of_a_database_folder(tmp_path):
    found, problems = collections_of(dump_folder(tmp_path) / "tasky")
    assert problems == []
    assert found == {
        "todos": {"documents": 25, "indexes": ["_id_", "n_1"]},
        "users": {"documents": 2, "indexes": ["_id_"]},
        "open_todos": {"documents": None, "indexes": [], "type": "view"},
        "a/b": {"documents": 3, "indexes": []},
        "odd$name": {"documents": 1, "indexes": ["_id_"]},
    }


def test_dump_facts_of_a_dump_folder(tmp_path):
    dump = dump_folder(tmp_path)
    facts = dump_facts(str(dump), {"mongodump": "mongodump version: 100.11.0"}, "db-1", leave_out=["admin"])
    assert facts["format"] == 1 and facts["host"] == "db-1" and facts["problems"] == []
    assert facts["tools"] == {"mongodump": "mongodump version: 100.11.0"}
    assert set(facts["databases"]) == {"tasky"}  # admin left out; oplog.bson is no database
    assert facts["databases"]["tasky"]["todos"] == {"documents": 25, "indexes": ["_id_", "n_1"]}
    assert set(dump_facts(str(dump), {}, "db-1")["databases"]) == {"admin", "tasky"}


def test_a_truncated_bson_and_bad_metadata_are_problems_not_failures(tmp_path):
    dump = dump_folder(tmp_path)
    todos = dump / "tasky" / "todos.bson"
    todos.write_bytes(todos.read_bytes()[:-7])
    (dump / "tasky" / "users.metadata.json").write_text("{not json")
    facts = dump_facts(str(dump), {}, "db-1", leave_out=["admin"])
    assert facts["databases"]["tasky"]["todos"]["documents"] is None
    assert facts["databases"]["tasky"]["users"] == {"documents": 2, "indexes": []}
    first, second = facts["problems"]
    assert first.startswith("tasky/todos.bson: document 25 at byte")
    assert second.startswith("tasky/users.metadata.json is unreadable: ")


def test_dump_facts_never_raise(tmp_path):
    from tasky_backup.mongo.tools import tool_version

    facts = dump_facts(str(tmp_path / "missing"), {"mongodump": tool_version(str(tmp_path / "no-mongodump"))}, "db-1")
    assert facts["tools"]["mongodump"].startswith("unknown")
    assert facts["databases"] == {} and "could not read the dump directory" in facts["problems"][0]
