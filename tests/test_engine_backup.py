"""One backup run, end to end, against the lab's real S3 (Ceph RGW); mongodump is the stand-in."""

import hashlib
import io
import json
import re
import tarfile

import bson
from bson import json_util
from conftest import keys, run_engine, write_config

TIMESTAMPED = re.compile(r"^backups/mongodb-backup-\d{8}-\d{6}\.tar\.gz$")
DAILY = re.compile(r"^backups/daily-\d{4}-\d{2}-\d{2}\.tar\.gz$")
LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (INFO|WARNING|ERROR) ")


def summary(proc):
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SUMMARY ")]
    assert lines, proc.stdout + proc.stderr
    return json.loads(lines[-1][len("SUMMARY ") :])


def test_backup_writes_three_identical_objects_with_checksum(s3, engine_config):
    path, config = engine_config
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    result = summary(proc)
    bucket = config["bucket"]
    every = keys(s3, bucket)
    found = [k for k in every if k.endswith(".tar.gz")]
    assert len(found) == 3
    (stamped,) = [k for k in found if TIMESTAMPED.match(k)]
    (daily,) = [k for k in found if DAILY.match(k)]
    assert "backups/latest.tar.gz" in found
    # Beside them only the backup's sidecar and the catalogue (tests/test_catalogue.py).
    assert sorted(set(every) - set(found)) == ["backups/index.html", "backups/index.json", f"{stamped}.json"]
    assert result["catalogue"].endswith(f"/{bucket}/backups/index.html")
    assert result["key"] == stamped and result["status"] == "success"

    bodies = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in found}
    assert bodies[stamped] == bodies[daily] == bodies["backups/latest.tar.gz"]
    archive = bodies[stamped]
    digest = hashlib.sha256(archive).hexdigest()
    assert result["sha256"] == digest and result["size"] == len(archive)
    meta = s3.head_object(Bucket=bucket, Key=stamped)["Metadata"]
    assert meta["sha256"] == digest and meta["size"] == str(len(archive))
    # One version of the timestamped object: the metadata copy replaced, not stacked.
    versions = s3.list_object_versions(Bucket=bucket, Prefix=stamped).get("Versions", [])
    assert len([v for v in versions if v["Key"] == stamped]) == 1  # (the prefix also finds its sidecar)

    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        top = stamped[len("backups/") : -len(".tar.gz")]
        assert f"{top}/go-mongodb/todos.bson" in names
        assert f"{top}/go-mongodb/users.metadata.json" in names
        todos = bson.decode_all(tar.extractfile(f"{top}/go-mongodb/todos.bson").read())
    assert len(todos) == 200 and todos[0]["name"] == "task 0"


def test_backup_logs_timestamped_lines_without_secrets_and_keeps_state(engine_config):
    path, config = engine_config
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    log = open(config["log_file"], encoding="utf-8").read().splitlines()
    assert len(log) >= 5 and all(LOG_LINE.match(line) for line in log)
    assert log[-1].split(" ", 2)[2].startswith("SUMMARY {")
    assert "test-backup-password-not-real" not in "\n".join(log) + proc.stdout + proc.stderr
    state = json.load(open(config["state_file"], encoding="utf-8"))
    assert state["last_success"]["key"] == summary(proc)["key"]
    assert state["last_run"]["status"] == "success"


def test_list_verify_and_status(engine_config):
    path, _config = engine_config
    assert run_engine("backup", "--config", str(path)).returncode == 0
    listed = json.loads(run_engine("list", "--config", str(path)).stdout)
    assert len(listed) == 3 and all(item["size"] > 0 for item in listed)
    verify = run_engine("verify", "--config", str(path))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["valid"] and report["sha256"] == report["recorded_sha256"]
    assert any(c.endswith("/go-mongodb/todos.bson") for c in report["collections"])
    status = run_engine("status", "--config", str(path))
    assert status.returncode == 0, status.stdout
    info = json.loads(status.stdout)
    assert info["s3_reachable"] and info["age_hours"] < 1 and info["next_run"].endswith("T02:00:00Z")


def test_status_fails_when_the_last_backup_is_too_old(engine_config):
    path, config = engine_config
    state = {"last_success": {"finished_at": "2020-01-01T02:00:00Z", "key": "backups/old.tar.gz", "size": 1}}
    open(config["state_file"], "w", encoding="utf-8").write(json.dumps(state))
    proc = run_engine("status", "--config", str(path))
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["ok"] is False


def test_restore_brings_back_the_same_documents(engine_config, tmp_path):
    path, _config = engine_config
    assert run_engine("backup", "--config", str(path)).returncode == 0
    data_file = tmp_path / "standin-data.json"
    original = json_util.loads(data_file.read_text())
    damaged = {"go-mongodb": {"todos": original["go-mongodb"]["todos"][:5], "users": []}}
    data_file.write_text(json_util.dumps(damaged))
    proc = run_engine("restore", "--config", str(path), "--key", "latest", "--drop")
    assert proc.returncode == 0, proc.stderr
    assert json_util.loads(data_file.read_text()) == original


def test_oplog_dump_on_replica_set_members(s3, engine_config):
    path, config = engine_config
    write_config(path, {**config, "oplog": True})
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    key = summary(proc)["key"]
    archive = s3.get_object(Bucket=config["bucket"], Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert f"{key[len('backups/') : -len('.tar.gz')]}/oplog.bson" in tar.getnames()


def test_copies_over_the_copyobject_limit_go_multipart_and_keep_the_metadata(s3, engine_config, monkeypatch):
    """Backups over 5 GiB need multipart server-side copies; threshold and part size are lowered
    here so a 24 MiB dump (about 12 MiB of archive, uploaded in 5 MiB parts) takes that path."""
    from tasky_backup import store
    from tasky_backup.backup import take_backup
    from tasky_backup.config import load_config

    path, config = engine_config
    monkeypatch.setattr(store, "COPY_MULTIPART_THRESHOLD", 5 << 20)
    monkeypatch.setattr(store, "COPY_PART_SIZE", 8 << 20)
    monkeypatch.setenv("TASKY_STANDIN_BYTES", str(24 << 20))
    result = take_backup(load_config(str(path)))
    bucket = config["bucket"]
    stamped, daily, latest = result["keys"]
    heads = [s3.head_object(Bucket=bucket, Key=k) for k in (stamped, daily, latest)]
    assert all(h["ContentLength"] == result["size"] for h in heads)
    assert all(h["Metadata"]["sha256"] == result["sha256"] for h in heads)
    assert 8 << 20 < result["size"] <= 16 << 20
    # Two 8 MiB copy parts: the multipart copy made these objects (the upload had three parts).
    assert all(h["ETag"].endswith('-2"') for h in heads)
    body = s3.get_object(Bucket=bucket, Key=latest)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == result["sha256"]
    assert len(s3.list_object_versions(Bucket=bucket, Prefix=stamped).get("Versions", [])) == 1


def test_verify_catches_a_corrupted_backup_and_names_a_missing_one(s3, engine_config):
    path, config = engine_config
    assert run_engine("backup", "--config", str(path)).returncode == 0
    bucket, latest = config["bucket"], "backups/latest.tar.gz"
    recorded = s3.head_object(Bucket=bucket, Key=latest)["Metadata"]
    body = s3.get_object(Bucket=bucket, Key=latest)["Body"].read()
    s3.put_object(Bucket=bucket, Key=latest, Body=body[:-1] + bytes([body[-1] ^ 1]), Metadata=recorded)
    proc = run_engine("verify", "--config", str(path))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["valid"] is False and "differs from the recorded" in report["problems"][0]
    missing = run_engine("verify", "--config", str(path), "--key", "mongodb-backup-19990101-000000.tar.gz")
    assert missing.returncode == 1
    assert "verify failed" in missing.stderr and "NoSuchKey" in missing.stderr


def test_restore_drops_only_when_asked(engine_config, tmp_path):
    path, _config = engine_config
    assert run_engine("backup", "--config", str(path)).returncode == 0
    data_file = tmp_path / "standin-data.json"
    data = json_util.loads(data_file.read_text())
    data["go-mongodb"]["todos"].append({"_id": "added-after-the-backup"})
    data_file.write_text(json_util.dumps(data))

    def todo_ids():
        return {doc["_id"] for doc in json_util.loads(data_file.read_text())["go-mongodb"]["todos"]}

    assert run_engine("restore", "--config", str(path)).returncode == 0
    assert "added-after-the-backup" in todo_ids()  # no --drop: the newer document stays
    assert run_engine("restore", "--config", str(path), "--drop").returncode == 0
    assert "added-after-the-backup" not in todo_ids() and len(todo_ids()) == 200
