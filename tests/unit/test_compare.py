"""mongo/compare.py: the restore drill's verdict, the record of a dump against what was restored;
every difference names its database and collection."""

import copy

from tasky_backup.mongo.compare import compare, compare_collection, expected_of

KEY = "backups/mongodb-backup-20261125-020000.tar.gz"
RECORD = {
    "format": 1,
    "databases": {
        "tasky": {
            "todos": {"documents": 25, "indexes": ["_id_", "n_1"]},
            "users": {"documents": 2, "indexes": ["_id_"]},
            "open_todos": {"documents": None, "indexes": [], "type": "view"},
        },
        "crm": {"leads": {"documents": 1, "indexes": ["_id_"]}},
    },
    "problems": [],
}


def restored():
    return copy.deepcopy(RECORD["databases"])


def test_no_record_is_one_difference_naming_the_manifest():
    for record in (None, {}):
        (difference,) = compare(record, KEY, ["tasky"], restored())
        assert f"no record of what {KEY} held at dump time (its manifest {KEY}.json" in difference


def test_what_was_recorded_and_restored_alike_has_no_difference():
    assert compare(RECORD, KEY, ["crm", "tasky"], restored()) == []


def test_a_document_count_that_differs_names_the_collection():
    found = restored()
    found["tasky"]["todos"]["documents"] = 24
    assert compare(RECORD, KEY, ["crm", "tasky"], found) == ["tasky.todos: 25 documents at dump time, 24 restored"]


def test_a_missing_and_an_extra_index_are_named():
    found = restored()
    found["tasky"]["todos"]["indexes"] = ["_id_", "done_1"]
    assert compare(RECORD, KEY, ["crm", "tasky"], found) == [
        "tasky.todos: index(es) n_1 recorded at dump time and not restored",
        "tasky.todos: index(es) done_1 restored and not recorded at dump time",
    ]


def test_a_collection_not_restored_and_one_not_recorded():
    found = restored()
    del found["tasky"]["todos"]
    found["tasky"]["extra"] = {"documents": 1, "indexes": ["_id_"]}
    assert compare(RECORD, KEY, ["crm", "tasky"], found) == [
        "tasky.extra was restored and was not recorded at dump time",
        "tasky.todos was recorded at dump time (25 documents) and was not restored",
    ]


def test_a_view_not_restored_says_no_count():
    found = restored()
    del found["tasky"]["open_todos"]
    assert compare(RECORD, KEY, ["crm", "tasky"], found) == [
        "tasky.open_todos was recorded at dump time and was not restored"
    ]


def test_a_type_change_is_named():
    found = restored()
    found["tasky"]["open_todos"] = {"documents": 0, "indexes": []}
    assert compare(RECORD, KEY, ["crm", "tasky"], found) == [
        "tasky.open_todos was a view at dump time, restored as a collection"
    ]


def test_a_database_missing_on_either_side():
    assert compare(RECORD, KEY, ["tasky"], restored()) == [
        "database crm was recorded at dump time and is not in the archive"
    ]
    assert compare(RECORD, KEY, ["crm", "new", "tasky"], restored()) == [
        "database new is in the archive and was not recorded at dump time"
    ]


def test_a_database_in_the_archive_that_restored_nothing():
    found = restored()
    del found["crm"]
    assert compare(RECORD, KEY, ["crm", "tasky"], found) == [
        "crm.leads was recorded at dump time (1 documents) and was not restored"
    ]


def test_the_records_own_problems_are_reported_first():
    record = {**RECORD, "problems": ["tasky/todos.bson: document 25 at byte 900 claims 40 bytes"]}
    found = restored()
    found["tasky"]["users"]["documents"] = 3
    assert compare(record, KEY, ["crm", "tasky"], found) == [
        "recorded at dump time: tasky/todos.bson: document 25 at byte 900 claims 40 bytes",
        "tasky.users: 2 documents at dump time, 3 restored",
    ]


def test_a_count_not_recorded_is_a_difference():
    assert compare_collection("tasky.todos", {"documents": None, "indexes": []}, {"documents": 4, "indexes": []}) == [
        "tasky.todos: no document count was recorded at dump time; 4 restored"
    ]


def test_expected_of():
    assert expected_of(RECORD, "tasky", "users") == {"documents": 2, "indexes": ["_id_"]}
    assert expected_of(RECORD, "tasky", "nope") is None and expected_of(RECORD, "nope", "users") is None
    assert expected_of(None, "tasky", "users") is None
