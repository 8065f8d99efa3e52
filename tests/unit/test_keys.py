"""s3/keys.py: the names of a run's backup and its aliases in both formats, which format and kind
a key is, the time in a backup's name, the key an operator's words mean, public URLs, and the
backup an alias copies (from its ObjectMeta)."""

import datetime

import pytest
from tasky_backup.s3.keys import (
    backup_key_of,
    created_of,
    format_of,
    kind_of,
    latest_key,
    names_for,
    public_url,
    resolve_key,
)
from tasky_backup.s3.meta import ObjectMeta

NOW = datetime.datetime(2026, 11, 25, 2, 0, 7, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(("backup_format", "extension"), [("tar.gz", "tar.gz"), ("archive", "archive.gz")])
def test_a_runs_names(backup_format, extension):
    names = names_for("backups/", NOW, backup_format)
    assert names.name == "mongodb-backup-20261125-020007"
    assert names.key == f"backups/mongodb-backup-20261125-020007.{extension}"
    assert names.daily_key == f"backups/daily-2026-11-25.{extension}"
    assert names.latest_key == f"backups/latest.{extension}"
    assert names.users_key("private/users/") == f"private/users/mongodb-backup-20261125-020007-users.{extension}"


@pytest.mark.parametrize(
    ("key", "backup_format"),
    [
        ("backups/mongodb-backup-20261125-020000.archive.gz", "archive"),
        ("backups/latest.archive.gz", "archive"),
        ("backups/mongodb-backup-20261125-020000.tar.gz", "tar.gz"),
        ("backups/daily-2026-11-25.tar.gz", "tar.gz"),
        ("backups/whatever", "tar.gz"),
    ],
)
def test_format_of(key, backup_format):
    assert format_of(key) == backup_format


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("backups/mongodb-backup-20261125-020000.tar.gz", "backup"),
        ("backups/mongodb-backup-20261125-020000.archive.gz", "backup"),
        ("backups/latest.tar.gz", "alias"),
        ("backups/latest.archive.gz", "alias"),
        ("backups/daily-2026-11-25.tar.gz", "alias"),
        ("backups/daily-2026-11-25.archive.gz", "alias"),
        ("backups/mongodb-backup-20261125-020000.tar.gz.json", None),  # a sidecar
        ("backups/index.html", None),
        ("backups/index.json", None),
        ("backups/latest.tar.gz.bak", None),
        ("backups/mongodb-backup-2026112-020000.tar.gz", None),
        ("backups/mongodb-backup-20261125-020000.zip", None),
        ("backups/daily-2026-11.tar.gz", None),
        ("backups/old/latest.tar.gz", None),  # below the prefix, not in it
        ("other/latest.tar.gz", None),  # another prefix
        ("latest.tar.gz", None),
        ("private/users/mongodb-backup-20261125-020000-users.tar.gz", None),
    ],
)
def test_kind_of(key, kind):
    assert kind_of("backups/", key) == kind


def test_created_of_reads_the_time_in_the_name():
    assert created_of("mongodb-backup-20261125-020007.tar.gz") == "2026-11-25T02:00:07Z"
    assert created_of("mongodb-backup-20261231-235959.archive.gz") == "2026-12-31T23:59:59Z"


@pytest.mark.parametrize(
    ("key", "resolved"),
    [
        ("latest", "backups/latest.tar.gz"),
        ("", "backups/latest.tar.gz"),
        (None, "backups/latest.tar.gz"),
        ("mongodb-backup-20261125-020000.tar.gz", "backups/mongodb-backup-20261125-020000.tar.gz"),
        ("daily-2026-11-25.tar.gz", "backups/daily-2026-11-25.tar.gz"),
        ("backups/mongodb-backup-20261125-020000.tar.gz", "backups/mongodb-backup-20261125-020000.tar.gz"),
        (
            "private/users/mongodb-backup-20261125-020000-users.tar.gz",
            "private/users/mongodb-backup-20261125-020000-users.tar.gz",
        ),
        ("other/x.tar.gz", "backups/other/x.tar.gz"),
    ],
)
def test_resolve_key(settings_in, key, resolved):
    assert resolve_key(settings_in(users_prefix="private/users/"), key) == resolved


def test_without_a_users_prefix_a_private_looking_key_is_a_name_under_the_prefix(settings_in):
    assert resolve_key(settings_in(), "private/users/x.tar.gz") == "backups/private/users/x.tar.gz"


def test_latest_follows_the_format_and_prefix(settings_in):
    assert latest_key(settings_in()) == "backups/latest.tar.gz"
    assert latest_key(settings_in(format="archive", prefix="db/nightly/")) == "db/nightly/latest.archive.gz"
    assert resolve_key(settings_in(format="archive"), "latest") == "backups/latest.archive.gz"


def test_public_url_of_aws_an_endpoint_and_a_public_base(settings_in):
    key = "backups/latest.tar.gz"
    aws = settings_in(region="eu-west-1")
    assert public_url(aws, key) == "https://tasky-backups.s3.eu-west-1.amazonaws.com/backups/latest.tar.gz"
    endpoint = settings_in(endpoint_url="http://127.0.0.1:7490/")
    assert public_url(endpoint, key) == "http://127.0.0.1:7490/tasky-backups/backups/latest.tar.gz"
    base = settings_in(endpoint_url="http://127.0.0.1:7490", public_base_url="https://backups.example.org/")
    assert public_url(base, key) == "https://backups.example.org/backups/latest.tar.gz"


@pytest.mark.parametrize(
    ("key", "copied"),
    [
        ("backups/latest.tar.gz", "backups/mongodb-backup-20261125-020000.tar.gz"),
        ("backups/daily-2026-11-25.archive.gz", "backups/mongodb-backup-20261125-020000.archive.gz"),
    ],
)
def test_an_alias_names_the_backup_it_copies(settings_in, key, copied):
    meta = ObjectMeta(name="mongodb-backup-20261125-020000", format="tar.gz")
    assert backup_key_of(settings_in(), key, meta) == copied


def test_a_backup_without_a_name_in_its_metadata_is_its_own_key(settings_in):
    key = "backups/mongodb-backup-20261125-020000.tar.gz"
    assert backup_key_of(settings_in(), key, ObjectMeta()) == key
    assert backup_key_of(settings_in(), key, ObjectMeta.from_s3({})) == key
