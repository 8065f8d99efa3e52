"""Backups for the catalogue's tests, taken by the engine itself: documents written through
pytest's FerretDB as the application user (conftest's app_db), then the engine's take_backup at a
chosen time (`now`: several backups with chosen dates) with MongoDB's real mongodump and the
streaming upload to the lab's RGW (verified, sha256 and size in the metadata, daily-* and latest
by server-side copy), then the catalogue hook (the sidecar, then the catalogue), as a
whole run does (actions.py, backup_then_catalogue)."""

import datetime
import json
import sys
from pathlib import Path

from tasky_backup.base.settings import check_settings
from tasky_backup.ops.backup import take_backup
from tasky_backup.ops.catalogue import catalogue_after_backup

UTC = datetime.timezone.utc


def lab_config(engine_config, db, **extra):
    """The engine config of conftest's engine_config (the lab's RGW, the real mongodump against
    pytest's FerretDB), dumping this test's database only, checked like the host's."""
    _path, config = engine_config
    return check_settings({**config, "databases": [db.name], "s3_patience_s": 0, **extra})


def real_backup(config, when, client=None):
    """One successful run at `when`: the engine's backup, then the sidecar and the catalogue
    (the job's hook); returns the run's result."""
    result = take_backup(config, now=when)
    assert result.status == "success", result
    return catalogue_after_backup(config, result, client).as_dict()


def add_todos(db, count, index=True):
    """count more todos (_id and n counting on from those there), and the index n_1."""
    start = db.todos.count_documents({})
    db.todos.insert_many(
        [{"_id": n, "n": n, "title": f"todo {n}", "pad": "x" * (n % 50)} for n in range(start, start + count)]
    )
    if index:
        db.todos.create_index("n")


def add_users(db, count):
    db.users.insert_many([{"_id": n, "email": f"user{n}@example.com"} for n in range(count)])


def ago(days=0, hours=0, minutes=0):
    """A run's start time that long ago (UTC, whole seconds)."""
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    return now - datetime.timedelta(days=days, hours=hours, minutes=minutes)


def read_json(client, bucket, key):
    return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def tags_of(client, bucket, key):
    return {t["Key"]: t["Value"] for t in client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


# The page's hostile value and its HTML reader: the unit tier's (tests/unit/test_page.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_page import HOSTILE, Elements  # noqa: E402, F401 - after the path above; the browser test uses them
