"""s3/meta.py: ObjectMeta, the x-amz-meta-* of each backup object: written and read back the same,
numbers that are not numbers read as unknown, empty fields never written."""

import dataclasses

import pytest
from tasky_backup.s3.meta import ObjectMeta

FULL = ObjectMeta(
    name="mongodb-backup-20261125-020000",
    format="archive",
    deployment="tasky-prod",
    host="db-1",
    dump_bytes=123456789,
    sha256="ab" * 32,
    size=4567,
)


def test_to_s3_writes_every_field_under_its_key_as_text():
    assert FULL.to_s3() == {
        "tasky-backup": "mongodb-backup-20261125-020000",
        "format": "archive",
        "deployment": "tasky-prod",
        "host": "db-1",
        "dump-bytes": "123456789",
        "sha256": "ab" * 32,
        "size": "4567",
    }
    assert all(isinstance(value, str) for value in FULL.to_s3().values())


@pytest.mark.parametrize(
    "meta", [FULL, ObjectMeta(), ObjectMeta(name="x", size=0), ObjectMeta(host="db-1", dump_bytes=0)]
)
def test_a_round_trip_gives_the_same_meta(meta):
    assert ObjectMeta.from_s3(meta.to_s3()) == meta


def test_empty_fields_are_not_written():
    assert ObjectMeta().to_s3() == {}
    assert ObjectMeta(host="db-1", size=0).to_s3() == {"host": "db-1", "size": "0"}  # 0 is a size, not nothing


@pytest.mark.parametrize("raw", ["", "-1", "12.5", "1e6", "abc", " 12"])
def test_a_number_that_is_not_one_reads_as_unknown(raw):
    meta = ObjectMeta.from_s3({"size": raw, "dump-bytes": raw, "host": "db-1"})
    assert meta.size is None and meta.dump_bytes is None and meta.host == "db-1"


def test_nothing_read_is_empty():
    assert ObjectMeta.from_s3(None) == ObjectMeta.from_s3({}) == ObjectMeta()
    assert ObjectMeta.from_s3({"unrelated": "x"}) == ObjectMeta()


def test_but_changes_a_copy():
    done = FULL.but(sha256="cd" * 32, size=1)
    assert (done.sha256, done.size, done.name) == ("cd" * 32, 1, FULL.name)
    assert FULL.size == 4567
    with pytest.raises(dataclasses.FrozenInstanceError):
        FULL.size = 1


def test_numbers_that_only_look_like_digits_read_as_unknown():
    """str.isdigit() is true for a superscript two and for Arabic-Indic digits, which int()
    refuses or reads as another number."""
    meta = ObjectMeta.from_s3({"size": "\u00b2", "dump-bytes": "\u0661\u0662"})
    assert meta.size is None and meta.dump_bytes is None
