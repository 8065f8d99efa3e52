"""The tasky_backup module, run ad hoc by Ansible for real (localhost, the lab's S3)."""

import json

from conftest import BIN, ROOT, ansible_json, keys


def adhoc(module_args, check=False):
    """`ansible localhost -m tasky_backup -a ARGS`; returns the module's result."""
    cmd = [str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory/local"), "-m", "tasky_backup"]
    cmd += ["-a", json.dumps(module_args)] + (["--check"] if check else [])
    _rc, out = ansible_json(cmd)
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_module_takes_a_backup_and_returns_keys_urls_and_checksum(s3, engine_config):
    path, config = engine_config
    result = adhoc({"config": str(path)})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True
    assert len(result["keys"]) == 3 and result["keys"][2] == "backups/latest.tar.gz"
    assert [k for k in keys(s3, config["bucket"]) if k.endswith(".tar.gz")] == sorted(result["keys"])
    assert result["catalogue"].endswith(f"/{config['bucket']}/backups/index.html")
    assert result["urls"][1].endswith(f"/{config['bucket']}/backups/latest.tar.gz")
    assert len(result["sha256"]) == 64 and result["size"] > 0 and result["duration_s"] > 0


def test_module_lists_and_verifies(engine_config):
    path, _config = engine_config
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


def test_module_restore(engine_config, tmp_path):
    path, _config = engine_config
    adhoc({"config": str(path)})
    data_file = tmp_path / "standin-data.json"
    original = data_file.read_text()
    data_file.write_text('{"go-mongodb": {"todos": []}}')
    result = adhoc({"config": str(path), "state": "restore", "key": "latest", "drop": True})
    assert result["changed"] is True and result["drop"] is True
    assert json.loads(data_file.read_text()) == json.loads(original)


def test_module_bad_input_names_it(engine_config):
    path, _config = engine_config
    result = adhoc({"config": str(path), "bucket": "Bad_Bucket"})
    assert result["failed"] is True and "Bad_Bucket" in result["msg"]
    result = adhoc({"config": str(path), "state": "explode"})
    assert result["failed"] is True and "state" in result["msg"]
