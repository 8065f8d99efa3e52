"""One backup run, end to end: MongoDB's real mongodump against a real MongoDB-wire server
(pytest's FerretDB), the archive into the lab's real S3 (Ceph RGW), and back with the real
mongorestore. Each test seeds its own database through the server as the application user."""

import datetime
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

import bson
import requests
from conftest import (
    BIN,
    ENDPOINT,
    FERRETDB_FAKE_OPLOG_MONGODUMP,
    MONGODUMP,
    RAW,
    ROOT,
    allow_anonymous_downloads,
    keys,
    mongorestore_into,
    run_engine,
    seed,
    seed_bulk,
    snapshot,
    unpack,
    write_config,
)

TIMESTAMPED = re.compile(r"^backups/mongodb-backup-\d{8}-\d{6}\.tar\.gz$")
DAILY = re.compile(r"^backups/daily-\d{4}-\d{2}-\d{2}\.tar\.gz$")
LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (INFO|WARNING|ERROR) ")


def summary(proc):
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SUMMARY ")]
    assert lines, proc.stdout + proc.stderr
    return json.loads(lines[-1][len("SUMMARY ") :])


def test_backup_writes_three_identical_objects_with_the_dumped_documents(s3, engine_config, app_db, mongo_admin):
    path, config = engine_config
    seed(app_db)
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
    # Beside them only the backup's signed manifest and the catalogue (tests/lab/test_catalogue.py).
    expected = ["backups/index.html", "backups/index.json", f"{stamped}.json", f"{stamped}.json.sig"]
    assert sorted(set(every) - set(found)) == expected
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

    # What the real mongodump wrote is what the server holds, byte for byte.
    top = f"{stamped[len('backups/') : -len('.tar.gz')]}/{app_db.name}"
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert f"{top}/users.metadata.json" in tar.getnames()
        dumped = bson.decode_all(tar.extractfile(f"{top}/todos.bson").read(), RAW)
        metadata = json.load(tar.extractfile(f"{top}/todos.metadata.json"))
    assert sorted(d.raw for d in dumped) == sorted(snapshot(mongo_admin, app_db.name)["documents"]["todos"])
    assert {ix["name"] for ix in metadata["indexes"]} == {"_id_", "name_1"}


def test_backup_logs_timestamped_lines_without_secrets_and_keeps_state(engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    log = open(config["log_file"], encoding="utf-8").read().splitlines()
    assert len(log) >= 5 and all(LOG_LINE.match(line) for line in log)
    assert log[-1].split(" ", 2)[2].startswith("SUMMARY {")
    assert any(f"done dumping {app_db.name}.todos (5 documents)" in line for line in log)
    assert "test-backup-password-not-real" not in "\n".join(log) + proc.stdout + proc.stderr
    state = json.load(open(config["state_file"], encoding="utf-8"))
    assert state["last_success"]["key"] == summary(proc)["key"]
    assert state["last_run"]["status"] == "success"


def test_list_verify_and_status(engine_config, app_db):
    path, _config = engine_config
    seed(app_db, todos=3, users=1)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    listed = json.loads(run_engine("list", "--config", str(path)).stdout)
    assert len(listed) == 3 and all(item["size"] > 0 for item in listed)
    verify = run_engine("verify", "--config", str(path))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["valid"] and report["sha256"] == report["recorded_sha256"]
    assert any(c.endswith(f"/{app_db.name}/todos.bson") for c in report["collections"])
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


def test_anonymous_download_restores_every_document_into_a_fresh_database(
    s3, engine_config, app_db, fresh_db_name, mongo_admin, restore_login, tmp_path
):
    """Documents written as the app user -> backup -> anonymous HTTP GET of latest.tar.gz ->
    tar -xzf -> the real mongorestore into a database of another name: the same documents
    (raw BSON, so types too) and the same indexes."""
    path, config = engine_config
    seed(app_db)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    allow_anonymous_downloads(s3, config["bucket"])
    download = requests.get(f"{ENDPOINT}/{config['bucket']}/backups/latest.tar.gz", timeout=30)
    assert download.status_code == 200
    (tmp_path / "latest.tar.gz").write_bytes(download.content)
    (tmp_path / "unpacked").mkdir()
    dump_dir = unpack(tmp_path / "latest.tar.gz", tmp_path / "unpacked")
    proc = mongorestore_into(dump_dir, app_db.name, fresh_db_name, restore_login)
    assert proc.returncode == 0, proc.stderr
    assert "220 document(s) restored successfully. 0 document(s) failed to restore." in proc.stderr
    restored, original = snapshot(mongo_admin, fresh_db_name), snapshot(mongo_admin, app_db.name)
    assert restored == original
    assert len(original["documents"]["todos"]) == 200
    assert original["indexes"] == {"todos": ["_id_", "name_1"], "users": ["_id_", "email_1"]}


def test_restore_brings_back_the_same_documents(s3, engine_config, app_db, mongo_admin, restore_login):
    path, _config = engine_config
    seed(app_db)
    before = snapshot(mongo_admin, app_db.name)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    app_db.todos.delete_many({"completed": True})
    app_db.todos.update_one({}, {"$set": {"name": "changed after the backup"}})
    app_db.users.drop()
    user, secret = restore_login
    proc = run_engine(
        "restore",
        "--config",
        str(path),
        "--key",
        "latest",
        "--drop",
        "--restore-user",
        user,
        "--restore-config",
        secret,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert snapshot(mongo_admin, app_db.name) == before


def test_restore_drops_only_when_asked(s3, engine_config, app_db, restore_login):
    """Without --drop, mongorestore keeps what is there and refuses the documents already in it
    (duplicate _id): it exits 0 on that, so the engine counts them and fails the restore, naming
    the number; with --drop the collections are replaced by the backup's."""
    path, _config = engine_config
    seed(app_db, todos=10, users=1)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    app_db.todos.insert_one({"_id": "added-after-the-backup"})
    user, secret = restore_login
    login = ("--restore-user", user, "--restore-config", secret)

    def todo_ids():
        return {doc["_id"] for doc in app_db.todos.find({}, {"_id": 1})}

    proc = run_engine("restore", "--config", str(path), *login)
    assert proc.returncode == 1
    assert "mongorestore could not restore 11 document(s) (0 restored)" in proc.stderr
    assert "added-after-the-backup" in todo_ids()  # no --drop: nothing was dropped
    assert run_engine("restore", "--config", str(path), "--drop", *login).returncode == 0
    assert "added-after-the-backup" not in todo_ids() and len(todo_ids()) == 10


def test_oplog_dumps_publish_only_the_databases_backed_up(
    s3, engine_config, app_db, mongo_admin, fresh_db_name, monkeypatch
):
    """With --oplog mongodump dumps the whole server: admin (every user's keys), other
    databases, and an oplog of every write made meanwhile. The public archive keeps the
    configured database only, and an oplog.bson with its operations only (inside transactions
    too). FerretDB keeps no oplog, so the real `mongodump --oplog` fails against it; this runs
    through tests/lab/fixtures/ferretdb_fake_oplog_mongodump (its docstring says what it adds)."""
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    mongo_admin[fresh_db_name].other.insert_one({"_id": 1})  # a database not backed up
    write_config(
        path,
        {**config, "oplog": True, "databases": [app_db.name], "mongodump_path": str(FERRETDB_FAKE_OPLOG_MONGODUMP)},
    )
    monkeypatch.setenv("TASKY_REAL_MONGODUMP", str(MONGODUMP))
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")  # the wrapper needs pymongo's bson
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--oplog passed" in open(config["log_file"], encoding="utf-8").read()
    key = summary(proc)["key"]
    archive = s3.get_object(Bucket=config["bucket"], Key=key)["Body"].read()
    top = key[len("backups/") : -len(".tar.gz")]
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        assert {n.split("/")[1] for n in names if n.count("/") >= 2} == {app_db.name}
        assert f"{top}/{app_db.name}/todos.bson" in names  # the real dump
        oplog = bson.decode_all(tar.extractfile(f"{top}/oplog.bson").read())
        published = sum(member.size for member in tar.getmembers() if member.isfile())
    # The size a restore (or a drill) must make room for is what the archive holds, not the
    # whole server's dump.
    meta = s3.head_object(Bucket=config["bucket"], Key=key)["Metadata"]
    assert int(meta["dump-bytes"]) == published == summary(proc)["dump_bytes"]
    plain = [e for e in oplog if e["op"] != "c"]
    assert [e["ns"] for e in plain if e["op"] != "n"] == [f"{app_db.name}.c"]
    (txn,) = [e for e in oplog if e["op"] == "c"]
    assert [op["ns"] for op in txn["o"]["applyOps"]] == [f"{app_db.name}.c"]
    assert b"fake-stored-key" not in archive and b"system.users" not in gzip.decompress(archive)


def test_real_mongodump_oplog_fails_on_ferretdb(engine_config, app_db):
    """What the wrapper above stands in for: against FerretDB (no replica set, no oplog) the real
    mongodump --oplog fails, and the engine reports it as a failed run."""
    path, config = engine_config
    seed(app_db, todos=1, users=1)
    write_config(path, {**config, "oplog": True})
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 1
    assert "error getting oplog start" in open(config["log_file"], encoding="utf-8").read()


def test_copies_over_the_copyobject_limit_go_multipart_and_keep_the_metadata(s3, engine_config, app_db, monkeypatch):
    """Backups over 5 GiB need multipart server-side copies; threshold and part size are lowered
    here so a 24 MiB dump (about 12 MiB of archive, uploaded in 5 MiB parts) takes that path."""
    from tasky_backup.base.settings import load_settings
    from tasky_backup.ops.backup import take_backup
    from tasky_backup.s3 import objects as store

    path, config = engine_config
    seed_bulk(app_db, 24 << 20)
    monkeypatch.setattr(store, "COPY_MULTIPART_THRESHOLD", 5 << 20)
    monkeypatch.setattr(store, "COPY_PART_SIZE", 8 << 20)
    result = take_backup(load_settings(str(path))).as_dict()
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
    versions = s3.list_object_versions(Bucket=bucket, Prefix=stamped).get("Versions", [])
    assert len([v for v in versions if v["Key"] == stamped]) == 1  # (the prefix also finds its sidecar)


def test_verify_catches_a_corrupted_backup_and_names_a_missing_one(s3, engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=20, users=2)
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


def test_the_log_is_in_utc_whatever_the_hosts_time_zone(engine_config, app_db):
    """The engine writes UTC times (…Z) even on a host whose clock is in another time zone."""
    path, config = engine_config
    seed(app_db, todos=1, users=1)
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    env = {**os.environ, "TZ": "America/Los_Angeles"}
    proc = subprocess.run(
        [sys.executable, "-m", "tasky_backup", "backup", "--config", str(path)],
        cwd=ROOT / "module_utils",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    with open(config["log_file"], encoding="utf-8") as handle:
        stamps = [line.split(" ", 1)[0] for line in handle]
    parsed = [datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc) for s in stamps]
    assert parsed and all(before <= t <= after for t in parsed), (before, stamps[:3], after)
    assert summary(proc)["finished_at"].endswith("Z")


def test_parallel_collections_reach_mongodump(engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=1, users=1)
    write_config(path, {**config, "parallel_collections": 3})
    assert run_engine("backup", "--config", str(path)).returncode == 0
    with open(config["log_file"], encoding="utf-8") as handle:
        runs = [line for line in handle if "INFO running " in line and "mongodump" in line]
    assert runs and all("--numParallelCollections=3" in line for line in runs)
    assert all("password" not in line.split("--config=")[0] for line in runs)


def test_a_second_host_on_the_same_prefix_is_refused_naming_both(s3, engine_config, app_db):
    """Two hosts on one prefix would take turns overwriting latest and daily: a run refuses, before
    it dumps, a latest another host wrote, unless the two are members of one replica set (or told
    once, for a host rebuilt under a new alias)."""
    path, config = engine_config
    seed(app_db, todos=3, users=1)
    bucket, latest = config["bucket"], "backups/latest.tar.gz"

    def backup_as(alias, *flags, replica_set=""):
        write_config(path, {**config, "host_alias": alias, "replica_set": replica_set})
        return run_engine("backup", "--config", str(path), *flags)

    assert backup_as("lab-first").returncode == 0
    written = s3.head_object(Bucket=bucket, Key=latest)
    assert written["Metadata"]["writer"] == "lab-first"
    refused = backup_as("lab-second")
    assert refused.returncode == 1
    said = refused.stdout + refused.stderr  # the failed run's result, on stdout
    assert f"{latest} was written by lab-first, not by this host (lab-second)" in said
    assert "accept_other_writer=true" in said
    assert s3.head_object(Bucket=bucket, Key=latest)["ETag"] == written["ETag"]
    assert len([k for k in keys(s3, bucket) if TIMESTAMPED.match(k)]) == 1  # refused before it dumped
    # Members of one replica set share latest; another set is another writer.
    assert backup_as("lab-first", "--accept-other-writer", replica_set="rs0").returncode == 0
    assert backup_as("lab-second", replica_set="rs0").returncode == 0
    assert s3.head_object(Bucket=bucket, Key=latest)["Metadata"]["writer"] == "replica set rs0"
    other = backup_as("lab-third", replica_set="rs1")
    assert other.returncode == 1 and "written by replica set rs0, not by this host (replica set rs1)" in other.stdout


def test_a_latest_whose_writer_cannot_be_read_fails_the_run(s3, engine_config, app_db):
    """Only "no latest yet" (404) lets a run go on without knowing who wrote latest: any other
    answer (here a 403 on its HEAD) fails it before the dump, never skipping the guard."""
    from conftest import S3_PORT
    from fault_proxy import FaultProxy

    path, config = engine_config
    seed(app_db, todos=2, users=1)
    assert run_engine("backup", "--config", str(path)).returncode == 0

    def deny_head_of_latest(method, target, headers):
        return ("fail", 403) if method == "HEAD" and target.split("?")[0].endswith("/backups/latest.tar.gz") else None

    proxy = FaultProxy(S3_PORT, [deny_head_of_latest])
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint})
        proc = run_engine("backup", "--config", str(path))
    finally:
        proxy.close()
    assert proc.returncode == 1 and "cannot read who wrote backups/latest.tar.gz" in proc.stdout, proc.stdout
    assert len([k for k in keys(s3, config["bucket"]) if TIMESTAMPED.match(k)]) == 1
