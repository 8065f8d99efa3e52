"""base/settings.py: check_settings' defaults and every refusal, each naming its option; the
frozen Settings and .replace(), which checks again."""

import dataclasses

import pytest
from tasky_backup.base.errors import BackupError
from tasky_backup.base.settings import SETTINGS, Settings, check_settings

GOOD = {"bucket": "tasky-backups"}


def refused(change, source="config"):
    """The message of the refusal of GOOD with change applied."""
    with pytest.raises(BackupError) as caught:
        check_settings({**GOOD, **change}, source=source)
    return str(caught.value)


def test_defaults_fill_every_option_but_the_bucket():
    settings = check_settings(GOOD)
    assert isinstance(settings, Settings)
    assert settings.bucket == "tasky-backups"
    assert (settings.prefix, settings.format, settings.oplog) == ("backups/", "tar.gz", False)
    assert (settings.mongodb_port, settings.part_size_mib, settings.retries) == (27017, 8, 5)
    assert settings.databases == () and settings.users_prefix == "" and settings.drill_schedule == ""
    assert settings.age_recipients == ()
    for name, setting in SETTINGS.items():
        if name not in ("bucket", "databases", "age_recipients"):  # the two lists are kept as tuples
            assert getattr(settings, name) == setting.default, name


def test_an_unknown_option_is_refused_by_name():
    message = refused({"bukcet": "x", "zeta": 1}, source="/etc/backup.json")
    assert message == "/etc/backup.json: unknown option(s): bukcet, zeta"


@pytest.mark.parametrize("data", [{}, {"bucket": ""}, {"bucket": None}])
def test_a_missing_bucket_is_refused(data):
    with pytest.raises(BackupError, match=r"config: missing required option\(s\): bucket"):
        check_settings(data)


@pytest.mark.parametrize(
    "name",
    [
        *("ab", "Tasky-Backups", "tasky_backups", "-tasky", "tasky-", "a..b", "x" * 64, 7),
        # S3 refuses these too: an IP address, a dot beside a dash, its reserved prefixes and suffixes
        *("192.168.5.4", "a.-b", "a-.b", "xn--tasky", "sthree-tasky", "tasky-s3alias", "tasky--ol-s3"),
    ],
)
def test_a_bad_bucket_name_is_refused(name):
    assert refused({"bucket": name}) == f"config: bucket '{name}' is not a valid S3 bucket name"


@pytest.mark.parametrize("name", ["abc", "tasky.backups-2", "x" * 63])
def test_good_bucket_names_pass(name):
    assert check_settings({"bucket": name}).bucket == name


@pytest.mark.parametrize("prefix", ["backups", "/backups/", "", 3])
def test_a_bad_prefix_is_refused(prefix):
    assert refused({"prefix": prefix}).startswith("config: prefix ")


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("mongodb_port", 1, 65535),
        ("parallel_collections", 1, 64),
        ("retries", 1, 20),
        ("s3_patience_s", 0, 3600),
        ("dump_timeout_s", 10, 7 * 24 * 3600),
        ("min_free_percent", 0, 90),
        ("part_size_mib", 5, 512),
        ("upload_threads", 1, 16),
        ("compress_level", 1, 9),
        ("compress_threads", 0, 1024),
        ("progress_log_s", 1, 3600),
        ("max_age_hours", 1, 24 * 366),
        ("drill_max_age_days", 1, 366),
    ],
)
def test_each_integer_is_held_to_its_range(name, low, high):
    assert getattr(check_settings({**GOOD, name: low}), name) == low
    assert getattr(check_settings({**GOOD, name: high}), name) == high
    for bad in (low - 1, high + 1, "8", True, 1.5):
        message = refused({name: bad})
        assert message == f"config: {name} must be an integer from {low} to {high}, got {bad!r}", bad


def test_the_format_is_one_of_the_two():
    assert check_settings({**GOOD, "format": "archive"}).format == "archive"
    assert refused({"format": "zip"}) == "config: format must be one of tar.gz, archive, got 'zip'"


@pytest.mark.parametrize("value", ["true", 1, 0])
def test_oplog_is_a_boolean(value):
    assert refused({"oplog": value}) == f"config: oplog must be true or false, got {value!r}"


def test_a_null_value_is_a_missing_option():
    assert (
        refused({"oplog": None, "region": None}) == "config: missing required option(s): region, oplog"
    )  # in the table's order


def test_databases_is_a_list_of_names():
    assert check_settings({**GOOD, "databases": ["tasky", "app-2"]}).databases == ("tasky", "app-2")
    assert "databases must be a list of database names" in refused({"databases": "tasky"})
    assert "databases must be a list of database names" in refused({"databases": ["tasky", 3]})


@pytest.mark.parametrize("private", ["admin", "config", "local"])
def test_private_databases_are_refused(private):
    message = refused({"databases": ["tasky", private]})
    assert message.startswith(f"config: databases holds '{private}'") and "users_prefix" in message


@pytest.mark.parametrize("name", ["", "a.b", "a/b", "a b", "a$b", 'a"b', "x" * 64])
def test_invalid_database_names_are_refused(name):
    assert f"databases holds '{name}', which is not a valid MongoDB database name" in refused({"databases": [name]})


@pytest.mark.parametrize("users_prefix", ["backups/users/", "backups/", "private", "/private/", "private//x/"])
def test_users_prefix_must_lie_outside_the_public_prefix(users_prefix):
    message = refused({"users_prefix": users_prefix})
    assert message.startswith(f"config: users_prefix '{users_prefix}' must look like 'private/users/'")
    assert "outside the public prefix 'backups/'" in message


def test_a_users_prefix_beside_the_public_one_passes():
    assert check_settings({**GOOD, "users_prefix": "private/users/"}).users_prefix == "private/users/"


def test_a_relative_drill_config_is_refused_only_with_a_drill_user():
    assert check_settings({**GOOD, "drill_config": "drill.yaml"}).drill_config == "drill.yaml"
    message = refused({"drill_user": "backup-drill", "drill_config": "drill.yaml"})
    assert message.startswith("config: drill_config must be the absolute path") and "'drill.yaml'" in message


@pytest.mark.parametrize("schedule", ["0 4 * *", "0 4 * * 0 *", "weekly", 5])
def test_drill_schedule_is_five_fields(schedule):
    assert refused({"drill_schedule": schedule}) == f"config: drill_schedule must be five cron fields, got {schedule!r}"


def test_settings_are_frozen():
    settings = check_settings(GOOD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.bucket = "other-bucket"


def test_replace_checks_the_change_again():
    settings = check_settings({**GOOD, "databases": ["tasky"]})
    changed = settings.replace(format="archive", part_size_mib=16)
    assert (changed.format, changed.part_size_mib, changed.databases) == ("archive", 16, ("tasky",))
    assert settings.format == "tar.gz"  # the original is untouched
    with pytest.raises(BackupError, match="settings: part_size_mib must be an integer from 5 to 512, got 4"):
        settings.replace(part_size_mib=4)
    with pytest.raises(BackupError, match=r"settings: unknown option\(s\): colour"):
        settings.replace(colour="blue")
