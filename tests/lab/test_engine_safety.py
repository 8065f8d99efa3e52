"""What a backup publishes and what a restore accepts, against the real tools, FerretDB and RGW:
no credentials in the public archive, users and roles only under a private prefix, every
integrity check able to fail, a restore that checks before it writes."""

import hashlib
import json
import os

import pytest
from conftest import (
    ACCESS_KEY,
    BACKUP_PASSWORD,
    BIN,
    ROOT,
    S3_PORT,
    SECRET_KEY,
    allow_anonymous_downloads,
    anonymous,
    ansible_json,
    archive_folders,
    lab_client,
    run_engine,
    seed,
    snapshot,
    write_config,
    write_mongo_config,
)
from fault_proxy import FaultProxy


def summary(proc):
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("SUMMARY ")]
    return json.loads(line[len("SUMMARY ") :])


def test_the_public_archive_holds_no_credentials(s3, engine_config, app_db, mongo_admin):
    """The real mongodump of the whole server writes admin/system.users (every user's SCRAM
    keys); the engine dumps the application databases only: no admin/, config/ or local/."""
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    assert mongo_admin.admin.command("usersInfo")["users"], "the server has users whose keys could leak"
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    assert app_db.name in summary(proc)["databases"] and "admin" not in summary(proc)["databases"]
    for key in summary(proc)["keys"]:
        folders = archive_folders(s3, config["bucket"], key)
        assert app_db.name in folders and not folders & {"admin", "config", "local"}, (key, folders)


def test_configured_databases_only(s3, engine_config, app_db, mongo_admin, fresh_db_name):
    path, config = engine_config
    seed(app_db, todos=3, users=1)
    mongo_admin[fresh_db_name].other.insert_one({"_id": 1})
    write_config(path, {**config, "databases": [app_db.name]})
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    assert archive_folders(s3, config["bucket"], summary(proc)["key"]) == {app_db.name}


def test_users_and_roles_go_to_a_private_prefix_only(s3, engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=3, users=1)
    allow_anonymous_downloads(s3, config["bucket"])  # what the role's public read grants: backups/*
    write_config(path, {**config, "users_prefix": "private/users/"})
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    users_key = summary(proc)["users_key"]
    assert users_key.startswith("private/users/mongodb-backup-") and users_key.endswith("-users.tar.gz")
    assert archive_folders(s3, config["bucket"], users_key) == {"admin"}
    assert "admin" not in archive_folders(s3, config["bucket"], summary(proc)["key"])
    assert anonymous("GET", f"{config['bucket']}/{users_key}").status_code == 403
    assert anonymous("GET", f"{config['bucket']}/{summary(proc)['key']}").status_code == 200
    # The engine reads it back under its private key (not backups/private/...), admin and all.
    verify = run_engine("verify", "--config", str(path), "--key", users_key)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["key"] == users_key and json.loads(verify.stdout)["valid"] is True


def test_with_oplog_the_free_space_estimate_counts_the_whole_server(engine_config, app_db, mongo_admin, fresh_db_name):
    """--oplog dumps every database but local to disk, not only the ones published: the estimate
    the free-space check uses must count them all (a small app database beside a big other one
    must not pass the check and then fill the disk)."""
    from tasky_backup.base.settings import load_settings
    from tasky_backup.mongo.server import ask_server

    path, config = engine_config
    seed(app_db, todos=3, users=1)
    other = mongo_admin[fresh_db_name]
    other.big.insert_many([{"_id": i, "blob": "x" * 4096} for i in range(512)])  # about 2 MiB
    write_config(path, {**config, "databases": [app_db.name]})
    config = load_settings(str(path))
    alone = ask_server(config.replace(oplog=False))
    whole = ask_server(config.replace(oplog=True))
    assert list(alone.databases) == list(whole.databases) == [app_db.name]
    alone, whole = alone.estimate, whole.estimate
    big = int(other.command("dbStats")["dataSize"])
    assert big > 2_000_000 and alone < big <= whole
    assert whole - alone >= big


@pytest.mark.parametrize("name", ["mongodump_config", "drill_config"])
def test_a_mongodb_credentials_file_others_can_read_is_refused(engine_config, app_db, tmp_path, name):
    """docs/engine.md: the engine refuses a mongodump/mongorestore --config file others can read
    (it holds a password). The backup refuses before mongodump runs; so does the drill."""
    path, config = engine_config
    seed(app_db, todos=1, users=1)
    secret = tmp_path / f"{name}.yaml"
    write_mongo_config(secret, BACKUP_PASSWORD)
    secret.chmod(0o644)
    write_config(path, {**config, name: str(secret), "drill_user": "backup-drill"})
    proc = run_engine("backup" if name == "mongodump_config" else "drill", "--config", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"the credentials file {secret} can be read by others; make it 0600" in proc.stdout
    tool = config["mongodump_path" if name == "mongodump_config" else "mongorestore_path"]
    assert f"running {tool}" not in open(config["log_file"], encoding="utf-8").read()


def test_the_run_says_which_integrity_check_ran_rgw_multipart_etag(engine_config, app_db):
    """Ceph RGW 16 keeps no S3 additional checksums: the multipart ETag (MD5 of the parts) is checked."""
    path, config = engine_config
    seed(app_db, todos=3, users=1)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    with open(config["log_file"], encoding="utf-8") as handle:
        assert "size and multipart ETag (MD5 of the parts)" in handle.read()


def uploaded(client, bucket, key, body, part_size=5 << 20):
    """An object uploaded through the engine's MultipartWriter; returns (writer, version)."""
    from tasky_backup.s3.meta import ObjectMeta
    from tasky_backup.s3.multipart import MultipartWriter

    writer = MultipartWriter(client, bucket, key, part_size, 2, ObjectMeta(), patience_s=5)
    writer.write(body)
    return writer, writer.complete()


def test_sha256_part_checksums_are_checked_where_s3_keeps_them_moto(bucket_name):
    """moto's S3 keeps S3 additional checksums (as AWS does): the composite SHA-256 is checked."""
    from conftest import CLOUDWATCH_ENDPOINT as MOTO_ENDPOINT  # moto's server serves S3 too
    from tasky_backup.s3.multipart import verify_upload

    moto = lab_client("s3", MOTO_ENDPOINT)
    moto.create_bucket(Bucket=bucket_name)
    writer, version = uploaded(moto, bucket_name, "k", os.urandom(11 << 20))
    assert verify_upload(moto, bucket_name, "k", writer, version) == "size and SHA-256 part checksums"
    writer.part_sha256s[2] = hashlib.sha256(b"not what was sent").digest()
    with pytest.raises(Exception, match=r"SHA-256 checksum .* does not match the parts sent"):
        verify_upload(moto, bucket_name, "k", writer, version)


def test_an_object_that_is_not_what_was_sent_fails_verification(s3, backup_bucket):
    """The object S3 holds differs from what was sent, same size (the ETag differs, and the
    sha256 of a re-read says so), or another size."""
    from tasky_backup.base.errors import BackupError
    from tasky_backup.s3.multipart import verify_upload

    body = os.urandom(6 << 20)
    writer, _version = uploaded(s3, backup_bucket, "k", body)
    s3.put_object(Bucket=backup_bucket, Key="k", Body=body[:-1] + bytes([body[-1] ^ 1]))
    with pytest.raises(BackupError, match=r"sha256 .* differs from what was sent"):
        verify_upload(s3, backup_bucket, "k", writer)
    s3.put_object(Bucket=backup_bucket, Key="k", Body=body[:-1])
    with pytest.raises(BackupError, match=f"has {len(body) - 1} bytes, expected {len(body)}"):
        verify_upload(s3, backup_bucket, "k", writer)


def test_an_etag_that_is_not_an_md5_is_checked_by_re_reading(s3, backup_bucket):
    """SSE-KMS objects (and some S3 servers) have ETags that are not MD5s: the engine re-reads
    the object and checks its sha256 instead of failing every backup."""
    from tasky_backup.base.settings import check_settings
    from tasky_backup.s3.client import s3_client
    from tasky_backup.s3.multipart import verify_upload

    writer, version = uploaded(s3, backup_bucket, "k", os.urandom(6 << 20))

    def kms_like_etag(method, path, headers):
        return ("set_response_header", "ETag", '"0123456789abcdef0123456789abcdef"') if method == "HEAD" else None

    proxy = FaultProxy(S3_PORT, [kms_like_etag])
    try:
        client = s3_client(
            check_settings(
                {
                    "bucket": backup_bucket,
                    "endpoint_url": proxy.endpoint,
                    "access_key": ACCESS_KEY,
                    "secret_key": SECRET_KEY,
                }
            )
        )
        assert verify_upload(client, backup_bucket, "k", writer, version) == (
            "size and sha256 of a re-read of the whole object"
        )
    finally:
        proxy.close()
    assert proxy.hits


def restore(path, login, *extra):
    user, secret = login
    return run_engine("restore", "--config", str(path), "--restore-user", user, "--restore-config", secret, *extra)


def test_a_damaged_backup_is_refused_before_anything_is_restored(s3, engine_config, app_db, mongo_admin, restore_login):
    """A byte changed in latest.tar.gz after the backup (same metadata): the restore downloads it,
    finds its sha256 differs from the one recorded, and touches no database."""
    path, config = engine_config
    seed(app_db, todos=20, users=2)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    latest = "backups/latest.tar.gz"
    head = s3.head_object(Bucket=config["bucket"], Key=latest)
    body = s3.get_object(Bucket=config["bucket"], Key=latest)["Body"].read()
    damaged = body[:100] + bytes([body[100] ^ 1]) + body[101:]
    s3.put_object(Bucket=config["bucket"], Key=latest, Body=damaged, Metadata=head["Metadata"])
    app_db.todos.insert_one({"_id": "after"})
    before = snapshot(mongo_admin, app_db.name)
    proc = restore(path, restore_login, "--drop")
    assert proc.returncode == 1
    assert (
        "is damaged or not the backup it claims to be: sha256" in proc.stderr and "nothing was restored" in proc.stderr
    )
    assert snapshot(mongo_admin, app_db.name) == before
    assert os.listdir(config["work_dir"]) == []


def test_a_restore_config_others_can_read_is_refused_before_anything(engine_config, app_db, restore_login, tmp_path):
    """The restore user's --config file holds a password: checked like the drill's (its owner
    only, a password line) before a byte is downloaded."""
    path, config = engine_config
    seed(app_db, todos=3, users=1)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    user, secret = restore_login
    os.chmod(secret, 0o644)
    proc = restore(path, restore_login, "--drop")
    assert proc.returncode == 1 and f"the credentials file {secret} can be read by others" in proc.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("username: nobody\n")
    empty.chmod(0o600)
    proc = restore(path, (user, str(empty)), "--drop")
    assert proc.returncode == 1 and f"the credentials file {empty} has no password line" in proc.stderr
    assert os.listdir(config["work_dir"]) == []  # nothing downloaded
    assert app_db.todos.count_documents({}) == 3


def test_a_backup_of_another_deployment_is_refused_unless_allowed(engine_config, app_db, mongo_admin, restore_login):
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    write_config(path, {**config, "deployment": "staging"})
    assert run_engine("backup", "--config", str(path)).returncode == 0
    write_config(path, {**config, "deployment": "production"})
    app_db.todos.delete_many({})
    refused = restore(path, restore_login, "--drop")
    assert refused.returncode == 1
    assert "is a backup of deployment 'staging'" in refused.stderr and "not of 'production'" in refused.stderr
    assert app_db.todos.count_documents({}) == 0
    allowed = restore(path, restore_login, "--drop", "--allow-other-deployment")
    assert allowed.returncode == 0, allowed.stderr
    assert app_db.todos.count_documents({}) == 5


def test_a_drop_restore_on_many_hosts_at_once_needs_a_confirmation(engine_config, tmp_path):
    """The action plugin refuses restore drop=true when the play runs on more than one host,
    before any host is touched, unless drop_on_many_hosts=true."""
    path, _config = engine_config
    inventory = tmp_path / "two-hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        name: {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python")}
                        for name in ("db1", "db2")
                    }
                }
            }
        )
    )
    args = {"config": str(path), "state": "restore", "drop": True, "key": "mongodb-backup-19990101-000000.tar.gz"}
    cmd = [str(BIN / "ansible"), "all", "-i", str(inventory), "-m", "tasky_backup", "-a", json.dumps(args)]
    _rc, out = ansible_json(cmd)
    results = out["plays"][0]["tasks"][0]["hosts"]
    assert all(r["failed"] and "drop=true on 2 hosts at once" in r["msg"] for r in results.values())
    _rc, out = ansible_json([*cmd[:-1], json.dumps({**args, "drop_on_many_hosts": True})])
    results = out["plays"][0]["tasks"][0]["hosts"]
    # Past the plugin: the module itself ran on each host (and found no such backup, or, both
    # hosts being this machine, the other one's lock).
    assert all(r["failed"] for r in results.values())
    for result in results.values():
        assert "there is no backup backups/mongodb-backup-19990101" in result["msg"] or "is running" in result["msg"]


def test_the_module_reports_a_failed_and_a_locked_run(engine_config, app_db):
    from tasky_backup.base.lock import Lock
    from tasky_backup.base.settings import load_settings

    path, config = engine_config
    seed(app_db, todos=1, users=1)
    cmd = [str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory/local"), "-m", "tasky_backup"]
    with Lock(load_settings(str(path)).lock_file):
        _rc, out = ansible_json([*cmd, "-a", json.dumps({"config": str(path)})])
    locked = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert locked["failed"] and locked["status"] == "locked" and "another backup is running" in locked["msg"]
    write_config(path, {**config, "mongodb_port": 9})
    _rc, out = ansible_json([*cmd, "-a", json.dumps({"config": str(path)})])
    failed = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert failed["failed"] and failed["status"] == "failed" and "MongoDB at 127.0.0.1:9" in failed["msg"]


def test_status_flags_a_run_that_holds_the_lock_too_long(engine_config):
    """A hung run (the lock held for longer than max_age_hours) shows in status-check.sh."""
    import fcntl

    path, config = engine_config
    fd = os.open(config["lock_file"], os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, json.dumps({"pid": 1, "since": "2020-01-01T02:00:00Z"}).encode())
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = run_engine("status", "--config", str(path))
    finally:
        os.close(fd)
    status = json.loads(proc.stdout)
    assert proc.returncode == 1 and status["running_since"] == "2020-01-01T02:00:00Z"
    assert any("held the lock since 2020-01-01T02:00:00Z" in p for p in status["problems"])


def test_a_standalone_server_always_backs_up(engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=1, users=1)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    with open(config["log_file"], encoding="utf-8") as handle:
        assert "standalone server; databases: " in handle.read()


def test_latest_never_carries_the_expire_tag_not_even_for_a_moment(s3, engine_config, app_db):
    """A copy takes its source's tags unless told otherwise: were the run killed between the copy
    to latest.tar.gz and the tag's removal, latest would expire. Every write says its tags
    itself: the upload carries the expire tag, the copy to daily too, the copy to latest none
    (TaggingDirective REPLACE, no Tagging). The requests are read on their way to RGW."""
    path, config = engine_config
    seed(app_db, todos=3, users=1)
    seen = []

    def record(method, path, headers):
        if method in ("PUT", "POST"):
            seen.append((method, path, headers.get("x-amz-tagging-directive"), headers.get("x-amz-tagging")))
        return None

    proxy = FaultProxy(S3_PORT, [record])
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint})
        proc = run_engine("backup", "--config", str(path))
    finally:
        proxy.close()
    assert proc.returncode == 0, proc.stdout
    bucket = config["bucket"]
    copies = {
        target.split("?")[0].split("/", 2)[2]: (directive, tagging)
        for _m, target, directive, tagging in seen
        if directive
    }
    stamped = summary(proc)["key"]
    assert copies["backups/latest.tar.gz"] == ("REPLACE", None)
    assert copies[summary(proc)["keys"][1]] == ("REPLACE", "tasky-retention=expire")
    assert copies[stamped] == ("REPLACE", "tasky-retention=expire")  # the metadata rewrite
    (create,) = [t for m, target, _d, t in seen if m == "POST" and target.startswith(f"/{bucket}/{stamped}?uploads")]
    assert create == "tasky-retention=expire"


def test_s3_keys_from_a_root_only_credentials_file(engine_config, app_db, tmp_path):
    """For S3 servers without instance roles the keys sit in their own 0600 file, so the engine's
    configuration (shown when a converge fails) holds no secret; a file others can read is refused."""
    path, config = engine_config
    seed(app_db, todos=1, users=1)
    keys = tmp_path / "s3-credentials"
    keys.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
    keys.chmod(0o600)
    without = {k: v for k, v in config.items() if k not in ("access_key", "secret_key")}
    write_config(path, {**without, "credentials_file": str(keys)})
    assert run_engine("backup", "--config", str(path)).returncode == 0
    keys.chmod(0o644)
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 1 and "can be read by others" in summary(proc)["error"]


def test_runs_ending_together_each_keep_their_record_in_the_state_file(engine_config):
    """A backup, a drill and a locked-out run write the state file when they end, outside the
    run lock: each read-modify-write holds the state directory's flock, so one ending while
    another writes waits instead of writing over it."""
    import threading

    from tasky_backup.base.settings import load_settings
    from tasky_backup.base.state import read_state, record_drill, update

    path, _config = engine_config
    config = load_settings(str(path))
    inside, release = threading.Event(), threading.Event()

    def slow_backup_end(state):  # a backup's record, held mid-write
        inside.set()
        release.wait(10)
        state["last_run"] = {"status": "success", "finished_at": "2026-11-26T02:00:10Z"}

    writer = threading.Thread(target=update, args=(config, slow_backup_end))
    writer.start()
    assert inside.wait(10)
    drill = threading.Thread(
        target=record_drill, args=(config, {"status": "ok", "finished_at": "2026-11-26T02:00:11Z"})
    )
    drill.start()
    drill.join(0.5)
    assert drill.is_alive(), "the drill wrote the state while the backup's write was under way"
    release.set()
    writer.join(10)
    drill.join(10)
    state = read_state(config)
    assert state["last_run"]["status"] == "success" and state["last_drill"]["status"] == "ok"
    assert oct(os.stat(config.state_file).st_mode)[-3:] == "600"
