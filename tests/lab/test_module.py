"""The tasky_backup module, run ad hoc by Ansible for real (localhost, the lab's S3, the real
mongodump/mongorestore against pytest's FerretDB)."""

import json

import requests
from conftest import (
    BIN,
    ROOT,
    allow_anonymous_downloads,
    ansible_json,
    keys,
    mongorestore_into,
    seed,
    snapshot,
    unpack,
)


def adhoc(module_args, check=False):
    """`ansible localhost -m tasky_backup -a ARGS`; returns the module's result."""
    cmd = [str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory/local"), "-m", "tasky_backup"]
    cmd += ["-a", json.dumps(module_args)] + (["--check"] if check else [])
    _rc, out = ansible_json(cmd)
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_module_takes_a_backup_and_returns_keys_urls_and_checksum(s3, engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    result = adhoc({"config": str(path)})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True
    assert len(result["keys"]) == 3 and result["keys"][2] == "backups/latest.tar.gz"
    assert [k for k in keys(s3, config["bucket"]) if k.endswith(".tar.gz")] == sorted(result["keys"])
    assert result["catalogue"].endswith(f"/{config['bucket']}/backups/index.html")
    assert result["urls"][1].endswith(f"/{config['bucket']}/backups/latest.tar.gz")
    assert len(result["sha256"]) == 64 and result["size"] > 0 and result["duration_s"] > 0


def test_module_lists_and_verifies(engine_config, app_db):
    path, _config = engine_config
    seed(app_db, todos=5, users=1)
    taken = adhoc({"config": str(path)})
    listed = adhoc({"config": str(path), "state": "list"})
    assert listed["changed"] is False
    assert {b["key"] for b in listed["backups"]} == set(taken["keys"])
    verified = adhoc({"config": str(path), "state": "verify", "key": taken["key"]})
    assert verified["valid"] is True and verified["sha256"] == taken["sha256"]


def test_module_check_mode_changes_nothing(s3, engine_config):
    path, config = engine_config
    result = adhoc({"config": str(path)}, check=True)
    assert result["changed"] is True and "would backup" in result["msg"]
    assert keys(s3, config["bucket"]) == []


def test_module_backup_downloads_anonymously_and_restores_every_document(
    s3, engine_config, app_db, fresh_db_name, mongo_admin, restore_login, tmp_path
):
    """The module's backup -> anonymous download of latest.tar.gz -> tar -xzf -> the real
    mongorestore into a fresh database: the same documents, raw BSON, and the same indexes."""
    path, config = engine_config
    seed(app_db)
    taken = adhoc({"config": str(path)})
    assert taken["changed"] is True, taken.get("msg")
    allow_anonymous_downloads(s3, config["bucket"])
    download = requests.get(taken["urls"][1], timeout=30)
    assert download.status_code == 200
    (tmp_path / "latest.tar.gz").write_bytes(download.content)
    (tmp_path / "unpacked").mkdir()
    dump_dir = unpack(tmp_path / "latest.tar.gz", tmp_path / "unpacked")
    assert dump_dir.name == taken["key"][len("backups/") : -len(".tar.gz")]
    proc = mongorestore_into(dump_dir, app_db.name, fresh_db_name, restore_login)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(mongo_admin, fresh_db_name) == snapshot(mongo_admin, app_db.name)


def test_module_restore(s3, engine_config, app_db, mongo_admin, restore_login):
    path, _config = engine_config
    seed(app_db)
    before = snapshot(mongo_admin, app_db.name)
    adhoc({"config": str(path)})
    app_db.todos.drop()
    app_db.users.delete_many({})
    user, secret = restore_login
    args = {"config": str(path), "state": "restore", "key": "latest", "drop": True}
    result = adhoc({**args, "restore_user": user, "restore_config": secret})
    assert result["changed"] is True and result["drop"] is True, result.get("msg")
    assert snapshot(mongo_admin, app_db.name) == before


def test_module_bad_input_names_it(engine_config):
    path, _config = engine_config
    result = adhoc({"config": str(path), "bucket": "Bad_Bucket"})
    assert result["failed"] is True and "Bad_Bucket" in result["msg"]
    result = adhoc({"config": str(path), "state": "explode"})
    assert result["failed"] is True and "state" in result["msg"]
