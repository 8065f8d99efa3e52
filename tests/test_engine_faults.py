"""Faults: each run fails non-zero and leaves nothing lost or half-written."""

import fcntl
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import S3_PORT, keys, run_engine, seed, seed_bulk, write_config, write_mongo_config
from outage_proxy import OutageProxy


def latest_versions(s3, config):
    answer = s3.list_object_versions(Bucket=config["bucket"], Prefix="backups/latest.tar.gz")
    return [v["VersionId"] for v in answer.get("Versions", [])]


@pytest.fixture
def good_backup(s3, engine_config, app_db):
    """A first, successful backup of documents the app wrote: what `latest.tar.gz` must still be
    after a failed run."""
    path, config = engine_config
    seed(app_db, todos=20, users=2)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    head = s3.head_object(Bucket=config["bucket"], Key="backups/latest.tar.gz")
    return path, config, (head["ETag"], latest_versions(s3, config)), keys(s3, config["bucket"])


def assert_nothing_changed(s3, config, latest, before):
    etag, versions = latest
    assert keys(s3, config["bucket"]) == before
    assert s3.head_object(Bucket=config["bucket"], Key="backups/latest.tar.gz")["ETag"] == etag
    assert latest_versions(s3, config) == versions
    assert s3.list_multipart_uploads(Bucket=config["bucket"]).get("Uploads", []) == []


def assert_work_dir_clean(config):
    assert not os.path.exists(config["work_dir"]) or os.listdir(config["work_dir"]) == []


def failed_state(config):
    return json.load(open(config["state_file"], encoding="utf-8"))["last_run"]


def test_s3_unreachable_before_start(engine_config):
    path, config = engine_config
    write_config(path, {**config, "endpoint_url": "http://127.0.0.1:9"})  # nothing listens there
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 1
    assert "not reachable" in failed_state(config)["error"]
    assert_work_dir_clean(config)


def test_s3_going_away_mid_upload(s3, good_backup, app_db):
    path, config, latest_etag, before = good_backup
    # ~24 MiB dump, half incompressible: the archive needs several 5 MiB parts.
    seed_bulk(app_db, 24 << 20)
    proxy = OutageProxy(S3_PORT, fail_after_bytes=7 << 20, down_for=6)
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint})
        proc = run_engine("backup", "--config", str(path))
    finally:
        proxy.close()
    assert proxy.outages == 1
    assert proc.returncode == 1, proc.stdout
    log = open(config["log_file"], encoding="utf-8").read()
    assert "aborted the multipart upload" in log
    assert_nothing_changed(s3, config, latest_etag, before)
    assert_work_dir_clean(config)
    assert failed_state(config)["status"] == "failed"


def test_mongodump_failing_on_a_wrong_password(s3, good_backup):
    """A real failure of the real mongodump: the server refuses the backup user's password."""
    path, config, latest_etag, before = good_backup
    write_mongo_config(Path(config["mongodump_config"]), "not-the-backup-password")
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 1
    assert "mongodump failed with exit status 1" in failed_state(config)["error"]
    log = open(config["log_file"], encoding="utf-8").read()
    # mongodump's own words, in the log.
    assert "Failed: can't create session" in log and "(AuthenticationFailed) Authentication failed." in log
    assert "not-the-backup-password" not in log + proc.stdout + proc.stderr
    assert_nothing_changed(s3, config, latest_etag, before)
    assert_work_dir_clean(config)


def test_disk_full_during_the_dump(s3, good_backup, app_db, tmp_path):
    path, config, latest_etag, before = good_backup
    seed_bulk(app_db, 4 << 20)
    small = tmp_path / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        write_config(path, {**config, "work_dir": str(small)})
        proc = run_engine("backup", "--config", str(path))
        assert proc.returncode == 1
        # mongodump's own error, as the real tool words it.
        assert "no space left on device" in open(config["log_file"], encoding="utf-8").read()
        assert_nothing_changed(s3, config, latest_etag, before)
        assert_work_dir_clean({**config, "work_dir": str(small)})
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_concurrent_run_exits_75_touching_nothing(s3, good_backup):
    path, config, latest_etag, before = good_backup
    state_before = open(config["state_file"], encoding="utf-8").read()
    with open(config["lock_file"], "a+", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a run in progress
        proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 75
    assert "another backup is running" in proc.stdout
    assert open(config["state_file"], encoding="utf-8").read() == state_before
    assert_nothing_changed(s3, config, latest_etag, before)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"bucket": None}, "bucket"),
        ({"bucket": "Not_A_Bucket"}, "Not_A_Bucket"),
        ({"colour": "blue"}, "colour"),
        ({"parallel_collections": 0}, "parallel_collections"),
        ({"oplog": "yes"}, "oplog"),
    ],
)
def test_bad_config_is_rejected_before_any_work(s3, engine_config, change, named):
    path, config = engine_config
    bad = {**config, **change}
    bad = {k: v for k, v in bad.items() if v is not None}
    write_config(path, bad)
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 2
    assert named in proc.stderr
    assert not os.path.exists(config["log_file"]) and not os.path.exists(config["work_dir"])
    assert keys(s3, config["bucket"]) == []


def test_missing_config_file_is_named(tmp_path):
    proc = run_engine("backup", "--config", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and "nope.json" in proc.stderr
