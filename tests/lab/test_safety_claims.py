"""Every safety claim has a test that fails when the safety breaks (issue 22), on the real parts:
the lab's RGW (through the fault proxy where a fault is needed), FerretDB with MongoDB's real
mongodump and mongorestore, the engine as cron and the module run it.

Each test names the claim it holds; each was watched failing with the claim's code broken (the
line it names in its docstring), then passing with it back.
"""

import datetime
import gzip
import io
import json
import os
import signal
import struct
import subprocess
import sys
import tarfile
import time

import bson
import pytest
from conftest import (
    BIN,
    CLOUDWATCH_ENDPOINT,
    FERRETDB_FAKE_OPLOG_MONGODUMP,
    MONGODB_PORT,
    MONGODUMP,
    ROOT,
    S3_PORT,
    lab_client,
    resign,
    run_engine,
    seed,
    seed_bulk,
    snapshot,
    write_config,
)
from fault_proxy import FaultProxy, copy_to, copy_to_pattern
from nothing_lost import assert_nothing_lost
from nothing_lost import snapshot as bucket_snapshot
from outage_proxy import OutageProxy
from test_drill import run_drill
from test_engine_archive import split_archive
from test_module import adhoc

STAMPED_ARCHIVE = r"backups/mongodb-backup-\d{8}-\d{6}\.archive\.gz"


def backup(path, *args):
    proc = run_engine("backup", "--config", str(path), *args)
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("SUMMARY ")] or ["SUMMARY {}"]
    return proc, json.loads(line[len("SUMMARY ") :])


def log_of(config):
    with open(config["log_file"], encoding="utf-8") as handle:
        return handle.read()


def start_engine(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "tasky_backup", *args],
        cwd=ROOT / "module_utils",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.1)


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size): a tmpfs of that size (a disk of known free space); unmounted afterwards."""
    mounted = []

    def mount(size):
        where = tmp_path / f"disk-{len(mounted)}"
        where.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=True)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


# 1 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("drop", [False, True], ids=["plain", "drop"])
def test_check_mode_of_a_restore_changes_nothing_on_the_server(engine_config, app_db, mongo_admin, restore_login, drop):
    """actions.perform: check mode never runs a writing action (the `if check and action.writes`
    line); the module's --check and backup.sh --check say what they would restore, and the
    database is exactly as it was."""
    path, config = engine_config
    seed(app_db, todos=12, users=2)
    proc, _result = backup(path)
    assert proc.returncode == 0, proc.stdout
    app_db.todos.delete_many({})  # what a restore would bring back
    before = snapshot(mongo_admin, app_db.name)
    user, secret = restore_login
    args = {"config": str(path), "state": "restore", "drop": drop, "restore_user": user, "restore_config": secret}
    checked = adhoc(args, check=True)
    assert checked["changed"] is True and checked["msg"].startswith("would restore s3://"), checked
    flags = ["--drop"] if drop else []
    proc = run_engine(
        "restore", "--config", str(path), "--restore-user", user, "--restore-config", secret, "--check", *flags
    )
    assert proc.returncode == 0 and "would restore" in proc.stdout, proc.stdout + proc.stderr
    assert snapshot(mongo_admin, app_db.name) == before
    assert (
        "running " + config["mongorestore_path"] not in log_of(config) if os.path.exists(config["log_file"]) else True
    )
    assert os.listdir(config["work_dir"]) == []


# 3 -----------------------------------------------------------------------------------------
def test_a_backup_started_during_a_restore_exits_75_and_leaves_the_restores_files(
    s3, engine_config, app_db, restore_login
):
    """ops/restore.py holds the engine's Lock for the whole restore: a backup (cron at 02:00)
    meanwhile exits 75 and never removes the restore's scratch files (remove_leftovers runs only
    under the lock)."""
    path, config = engine_config
    seed_bulk(app_db, 6 << 20)
    proc, _result = backup(path)
    assert proc.returncode == 0, proc.stdout
    user, secret = restore_login
    proxy = OutageProxy(MONGODB_PORT, fail_after_bytes=1 << 20, direction="up", stall=True)
    stalled = dict(config, mongodb_port=proxy.port)
    restore_path = path.with_name("restore.json")
    write_config(restore_path, stalled)
    try:
        restoring = start_engine(
            "restore", "--config", str(restore_path), "--restore-user", user, "--restore-config", secret
        )
        wait_for(proxy.stalled.is_set, what="mongorestore to be under way")
        scratch = [name for name in os.listdir(config["work_dir"]) if name.startswith("restore-")]
        assert scratch
        locked, _result = backup(path)
        assert locked.returncode == 75, locked.stdout + locked.stderr
        assert [name for name in os.listdir(config["work_dir"]) if name.startswith("restore-")] == scratch
        restoring.send_signal(signal.SIGTERM)
        restoring.communicate(timeout=60)
    finally:
        proxy.close()
    assert os.listdir(config["work_dir"]) == []  # the restore itself cleaned up when it ended


# 4 -----------------------------------------------------------------------------------------
def test_the_free_space_margin_decides_the_outcome(s3, engine_config, app_db, tmpfs):
    """base/space.py: a dump that would leave less than min_free_percent of the work directory's
    file system free is refused; one percent less margin and the same dump goes on."""
    path, config = engine_config
    seed_bulk(app_db, 2 << 20)
    disk = tmpfs("16m")
    needed = int(app_db.command("dbStats")["dataSize"])
    fs = os.statvfs(disk)
    total, free = fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize
    left = (free - needed) * 100 / total  # the share the dump would leave free
    assert 5 < left < 95
    write_config(path, {**config, "databases": [app_db.name], "work_dir": str(disk), "min_free_percent": int(left) + 1})
    refused, result = backup(path)
    assert refused.returncode == 1 and f"not enough free space in {disk}" in result["error"], result
    write_config(path, {**config, "databases": [app_db.name], "work_dir": str(disk), "min_free_percent": int(left) - 1})
    taken, result = backup(path)
    assert taken.returncode == 0 and result["status"] == "success", result


# 5 -----------------------------------------------------------------------------------------
def test_a_restore_without_room_for_its_download_is_refused_before_downloading(
    s3, engine_config, app_db, restore_login, tmpfs
):
    """formats/restore_into.check_room runs before fetch: no GET of the backup is sent when the
    work directory cannot hold it (counted at the proxy in front of S3)."""
    path, config = engine_config
    seed_bulk(app_db, 4 << 20)  # half incompressible: the archive is about 2 MiB
    proc, _result = backup(path)
    assert proc.returncode == 0, proc.stdout
    small = tmpfs("1m")
    gets = []

    def count_gets(method, target, headers):
        if method == "GET" and target.split("?", 1)[0].endswith((".tar.gz", "latest.tar.gz")):
            gets.append(target)
        return None

    proxy = FaultProxy(S3_PORT, [count_gets])
    user, secret = restore_login
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint, "work_dir": str(small)})
        refused = run_engine("restore", "--config", str(path), "--restore-user", user, "--restore-config", secret)
    finally:
        proxy.close()
    assert refused.returncode == 1 and f"not enough free space in {small}" in refused.stderr, refused.stderr
    assert "the restore (archive and dump) needs about" in refused.stderr
    assert gets == [] and os.listdir(small) == []


# 6 -----------------------------------------------------------------------------------------
RECORDED = json.loads((ROOT / "tests/lab/fixtures/replica_set_secondary.json").read_text())


class RecordedServer:
    """A pymongo client that answers the replica set questions with what a real member answered
    (tests/lab/fixtures/replica_set_secondary.json, from MongoDB's own documentation of hello,
    replSetGetStatus and replSetGetConfig): FerretDB runs no replica set."""

    def __init__(self, answers):
        self.answers = answers
        self.admin = self

    def command(self, name, *args, **kwargs):
        return self.answers[name]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def decoded(value):
    """Extended JSON dates of the recording ({"$date": ...}) as datetimes, as pymongo gives them."""
    if isinstance(value, dict) and set(value) == {"$date"}:
        return datetime.datetime.fromisoformat(value["$date"].replace("Z", "+00:00"))
    if isinstance(value, dict):
        return {k: decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


def test_a_member_that_is_not_the_chosen_one_skips_without_metrics(s3, engine_config, app_db, cloudwatch, monkeypatch):
    """mongo/server.py member_decision on a real member's recorded answers: this member (db1) is
    a secondary, db2 the hidden secondary every member agrees on. The run is skipped: exit 0,
    status skipped in the result and the state file, no metric at all (recorded.py: no metrics
    for skipped runs), and status-check's age is latest's in S3, which the chosen member writes."""
    from tasky_backup.actions import perform
    from tasky_backup.base.settings import check_settings
    from tasky_backup.mongo import server
    from tasky_backup.ops.status import status_report

    _path, config = engine_config
    seed(app_db, todos=3, users=1)
    namespace = f"Tasky/Test-skip-{os.getpid()}-{time.monotonic_ns()}"
    settings = check_settings(
        {**config, "cloudwatch_namespace": namespace, "cloudwatch_endpoint_url": CLOUDWATCH_ENDPOINT}
    )
    taken = perform("backup", settings).result  # what the chosen member wrote
    assert taken["status"] == "success"
    monkeypatch.setattr(server, "connect", lambda *_a, **_k: RecordedServer(decoded(RECORDED)))
    outcome = perform("backup", settings.replace(state_file=settings.state_file + ".member"))
    assert outcome.ok and not outcome.changed and outcome.exit_status == 0
    skipped = outcome.result
    assert skipped["status"] == "skipped" and "db2.example.net:27017 backs up replica set rs0" in skipped["reason"]
    state = json.loads(open(settings.state_file + ".member", encoding="utf-8").read())
    assert state["last_run"]["status"] == "skipped" and "last_success" not in state
    published = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert {m["MetricName"] for m in published} == {
        "BackupSuccess",
        "BackupDuration",
        "BackupSize",
        "LastSuccessAge",
        "CatalogueFailures",
    }
    counts = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="BackupSuccess",
        # Bucket and Host: moto matches any data point that has these dimensions, and each run
        # sends its metrics per bucket and per bucket and host.
        Dimensions=[{"Name": "Bucket", "Value": config["bucket"]}, {"Name": "Host", "Value": taken["host"]}],
        StartTime=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1),
        EndTime=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
        Period=7200,
        Statistics=["SampleCount"],
    )["Datapoints"]
    assert [p["SampleCount"] for p in counts] == [1.0]  # the chosen member's run only
    report = status_report(settings.replace(state_file=settings.state_file + ".member")).as_dict()
    assert report["ok"] and report["last_run_status"] == "skipped" and report["age_hours"] < 1


# 7 -----------------------------------------------------------------------------------------
@pytest.fixture
def good_archive_backup(s3, engine_config, app_db):
    path, config = engine_config
    config = {**config, "format": "archive"}
    write_config(path, config)
    seed(app_db, todos=20, users=2)
    proc, _result = backup(path)
    assert proc.returncode == 0, proc.stdout
    return path, config, bucket_snapshot(s3, config["bucket"], config)


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(copy_to_pattern(STAMPED_ARCHIVE), id="metadata-rewrite"),
        pytest.param(copy_to_pattern(r"backups/daily-\d{4}-\d{2}-\d{2}\.archive\.gz"), id="daily-copy"),
        pytest.param(copy_to("backups/latest.archive.gz"), id="latest-copy"),
    ],
)
def test_the_archive_format_takes_back_its_writes_when_s3_fails_after_the_upload(s3, good_archive_backup, rule):
    """ops/backup.py's `except BaseException: run.rollback.undo()` around the archive format's
    upload and copies: a refused copy leaves latest and daily as they were."""
    path, config, before = good_archive_backup
    proxy = FaultProxy(S3_PORT, [rule])
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint, "s3_patience_s": 1, "retries": 1})
        proc, result = backup(path)
    finally:
        proxy.close()
    assert proxy.hits and proc.returncode == 1 and result["status"] == "failed", result
    assert "took back s3://" in log_of(config)
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_sigterm_during_the_archive_formats_copies_takes_back_its_writes(s3, good_archive_backup):
    """The copy to latest held back at the proxy, SIGTERM then, while the engine waits inside
    botocore: the run ends cleanly, recorded, and what it wrote (the backup, its manifest, daily)
    is deleted again. (botocore retries after any Exception raised while it waits, so the signal
    travels up as base/errors.Ending, not an Exception: before that, this run carried on.)"""
    path, config, before = good_archive_backup
    held = []

    def hold_latest(method, target, headers):
        if (
            method == "PUT"
            and headers.get("x-amz-copy-source")
            and target.split("?", 1)[0].endswith("/backups/latest.archive.gz")
        ):
            held.append(target)
            return ("delay", 8)
        return None

    proxy = FaultProxy(S3_PORT, [hold_latest])
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint})
        engine = start_engine("backup", "--config", str(path))
        wait_for(lambda: held, what="the copy to latest")
        engine.send_signal(signal.SIGTERM)
        out, err = engine.communicate(timeout=120)
    finally:
        proxy.close()
    assert engine.returncode == 1, out[-3000:] + err[-3000:]
    assert "terminated by SIGTERM" in out and "Traceback" not in err
    write_config(path, config)
    assert_nothing_lost(s3, config["bucket"], config, before)


# 8 -----------------------------------------------------------------------------------------
def test_an_oplog_backup_reaches_mongorestore_with_oplog_replay_in_the_tar_gz_format(
    s3, engine_config, app_db, restore_login, monkeypatch
):
    """formats/restore_into.Fetched.oplog: the signed manifest says oplog true and the dump has
    oplog.bson, so mongorestore gets --oplogReplay (the fake-oplog wrapper stands in for a replica
    set member's mongodump: FerretDB keeps no oplog). FerretDB cannot apply an oplog, so what
    matters here is the command mongorestore was given."""
    path, config = engine_config
    monkeypatch.setenv("TASKY_REAL_MONGODUMP", str(MONGODUMP))
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")  # the wrapper needs pymongo's bson
    config = {**config, "oplog": True, "databases": [app_db.name], "mongodump_path": str(FERRETDB_FAKE_OPLOG_MONGODUMP)}
    write_config(path, config)
    seed(app_db, todos=4, users=1)
    proc, result = backup(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = json.loads(s3.get_object(Bucket=config["bucket"], Key=result["key"] + ".json")["Body"].read())
    assert manifest["oplog"] is True
    user, secret = restore_login
    run_engine("restore", "--config", str(path), "--restore-user", user, "--restore-config", secret, "--drop")
    restores = [line for line in log_of(config).splitlines() if "running " + config["mongorestore_path"] in line]
    assert restores and "--oplogReplay" in restores[-1]
    # The same backup, its manifest re-signed to say it has no oplog: never replayed.
    body = s3.get_object(Bucket=config["bucket"], Key="backups/latest.tar.gz")["Body"].read()
    resign(s3, config, "backups/latest.tar.gz", body, oplog=False)
    run_engine("restore", "--config", str(path), "--restore-user", user, "--restore-config", secret, "--drop")
    restores = [line for line in log_of(config).splitlines() if "running " + config["mongorestore_path"] in line]
    assert "--oplogReplay" not in restores[-1]


def test_an_oplog_backup_reaches_mongorestore_with_oplog_replay_in_the_archive_format(
    s3, engine_config, app_db, restore_login
):
    """The archive format: a real mongodump archive given an oplog in the format's own shape
    (prelude entry, segment, EOF header with its CRC-64), signed as a member's --oplog backup
    would be: mongorestore gets --archive --gzip --oplogReplay."""
    from tasky_backup.mongo.archive_stream import MAGIC, crc64, signed64

    path, config = engine_config
    config = {**config, "format": "archive", "databases": [app_db.name]}
    write_config(path, config)
    seed(app_db, todos=4, users=1)
    proc, _result = backup(path)
    assert proc.returncode == 0, proc.stdout
    key = "backups/latest.archive.gz"
    archive = gzip.decompress(s3.get_object(Bucket=config["bucket"], Key=key)["Body"].read())
    header, prelude, body, _segments = split_archive(archive)
    entry = bson.encode({"ts": bson.Timestamp(1_700_000_000, 1), "t": 1, "op": "n", "ns": "", "o": {"msg": "noop"}})
    end = struct.pack("<i", -1)
    oplog = {"db": "", "collection": "oplog"}
    rebuilt = b"".join(
        [
            MAGIC,
            header,
            *prelude,
            bson.encode({**oplog, "metadata": "", "size": 0, "type": ""}),
            end,
            body,
            bson.encode({**oplog, "EOF": False, "CRC": bson.Int64(0)}),
            entry,
            end,
            bson.encode({**oplog, "EOF": True, "CRC": bson.Int64(signed64(crc64(0, entry)))}),
            end,
        ]
    )
    resign(s3, config, key, gzip.compress(rebuilt), oplog=True)
    user, secret = restore_login
    run_engine("restore", "--config", str(path), "--restore-user", user, "--restore-config", secret, "--drop")
    restores = [line for line in log_of(config).splitlines() if "running " + config["mongorestore_path"] in line]
    assert restores and "--archive=" in restores[-1] and "--gzip" in restores[-1]
    assert "--oplogReplay" in restores[-1]


# 9 -----------------------------------------------------------------------------------------
def test_a_drill_fails_when_an_index_did_not_come_back(s3, drill_config, app_db, mongo_admin):
    """mongo/compare.py compare_collection: the backup's metadata.json lost its index by_due (the
    manifest, signed at dump time, still lists it): mongorestore builds no such index, and the
    drill fails naming the collection and the index."""
    path, config = drill_config
    seed(app_db, todos=10, users=2)
    app_db.todos.create_index([("due", 1), ("name", 1)], name="by_due")
    proc, _result = backup(path)
    assert proc.returncode == 0, proc.stdout
    key = "backups/latest.tar.gz"
    original = s3.get_object(Bucket=config["bucket"], Key=key)["Body"].read()
    members = []
    with tarfile.open(fileobj=io.BytesIO(original), mode="r:gz") as tar:
        for member in tar:
            data = tar.extractfile(member).read() if member.isfile() else None
            if member.name.endswith("/todos.metadata.json"):
                meta = json.loads(data)
                meta["indexes"] = [ix for ix in meta["indexes"] if ix["name"] != "by_due"]
                data = json.dumps(meta).encode()
                member.size = len(data)
            members.append((member, data))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    resign(s3, config, key, out.getvalue())
    rc, drilled = run_drill(path)
    assert rc == 1 and drilled["status"] == "failed", drilled
    assert f"{app_db.name}.todos: index(es) by_due recorded at dump time and not restored" in drilled["differences"]
    assert drilled["scratch_dropped"] is True


# 11 ----------------------------------------------------------------------------------------
def test_botocore_retries_a_throttled_or_503_answer_and_never_access_denied(engine_config):
    """s3/client.py: botocore's standard retry mode with max_attempts=retries. A 503 SlowDown
    is tried `retries` times in all; a 403 AccessDenied once (counted at the proxy)."""
    from tasky_backup.base.settings import check_settings
    from tasky_backup.s3.client import s3_client

    _path, config = engine_config
    for status, code, attempts in ((503, "SlowDown", 4), (500, "InternalError", 4), (403, "AccessDenied", 1)):
        proxy = FaultProxy(
            S3_PORT, [lambda method, target, headers, s=status, c=code: ("fail", s, c) if method == "HEAD" else None]
        )
        try:
            client = s3_client(check_settings({**config, "endpoint_url": proxy.endpoint, "retries": 4}))
            with pytest.raises(client.exceptions.ClientError) as raised:
                client.head_object(Bucket=config["bucket"], Key="backups/latest.tar.gz")
        finally:
            proxy.close()
        assert len(proxy.hits) == attempts, (code, len(proxy.hits))
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


# 12 ----------------------------------------------------------------------------------------
def test_the_compression_thread_count_reaches_zlib_ng(engine_config, app_db, monkeypatch):
    """formats/gzip.gzip_stream passes compress_threads (0: every core this process may use) to
    zlib-ng's threaded writer: what zlib-ng is asked for, recorded at its own open()."""
    from tasky_backup.actions import perform
    from tasky_backup.base.settings import check_settings
    from tasky_backup.formats import gzip as engine_gzip
    from zlib_ng import gzip_ng_threaded

    asked = []

    class Recording:
        @staticmethod
        def open(*args, **kwargs):
            asked.append(kwargs["threads"])
            return gzip_ng_threaded.open(*args, **kwargs)

    monkeypatch.setattr(engine_gzip, "zlib_ng_threaded", lambda: Recording)
    _path, config = engine_config
    seed(app_db, todos=3, users=1)
    for cap, expected in ((1, 1), (0, len(os.sched_getaffinity(0)))):
        settings = check_settings({**config, "databases": [app_db.name], "compress_threads": cap})
        assert perform("backup", settings).result["status"] == "success"
        assert asked[-1] == expected, (cap, asked)


# 10 ----------------------------------------------------------------------------------------
def rendered_policy(tmp_path, bucket, **extra):
    out = tmp_path / "policy.json"
    cmd = [
        str(BIN / "ansible-playbook"),
        "-i",
        "localhost,",
        str(ROOT / "tests/lab/playbooks/backup_bucket_policy.yml"),
    ]
    extra = {
        "backup_bucket_name": bucket,
        "policy_file": str(out),
        "ansible_python_interpreter": sys.executable,
        **extra,
    }
    proc = subprocess.run([*cmd, "-e", json.dumps(extra)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


def test_the_tls_deny_statement_is_rendered_and_evaluated_on_moto(tmp_path):
    """roles/backup_bucket/vars: backup_bucket_tls_statements. The policy the role renders with
    backup_bucket_require_tls (its default) denies every plain-HTTP request, and moto's S3, which
    evaluates aws:SecureTransport, refuses one, anonymous or signed; rendered without it, the
    anonymous read of backups/ is allowed. The lab inventory turns it off, saying why: its RGW is
    served over plain HTTP (and RGW 16 does not evaluate aws:SecureTransport)."""
    import requests
    import yaml

    moto = lab_client("s3", CLOUDWATCH_ENDPOINT)  # moto's server serves S3 too, with any keys
    bucket = f"tasky-tls-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    moto.create_bucket(Bucket=bucket)
    moto.put_object(Bucket=bucket, Key="backups/latest.tar.gz.age", Body=b"ciphertext")
    url = f"{CLOUDWATCH_ENDPOINT}/{bucket}/backups/latest.tar.gz.age"
    try:
        policy = rendered_policy(tmp_path, bucket, backup_bucket_public_read=True)
        (deny,) = [s for s in policy["Statement"] if s["Sid"] == "DenyRequestsWithoutTLS"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        moto.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        assert requests.get(url, timeout=10).status_code == 403
        with pytest.raises(moto.exceptions.ClientError, match="403"):
            moto.get_object(Bucket=bucket, Key="backups/latest.tar.gz.age")
        plain = rendered_policy(tmp_path, bucket, backup_bucket_public_read=True, backup_bucket_require_tls=False)
        assert not [s for s in plain["Statement"] if s["Sid"] == "DenyRequestsWithoutTLS"]
        moto.put_bucket_policy(Bucket=bucket, Policy=json.dumps(plain))
        assert requests.get(url, timeout=10).content == b"ciphertext"
    finally:
        moto.delete_bucket_policy(Bucket=bucket)
        moto.delete_object(Bucket=bucket, Key="backups/latest.tar.gz.age")
        moto.delete_bucket(Bucket=bucket)
    lab = (ROOT / "inventory/local/group_vars/all.yml").read_text()
    assert yaml.safe_load(lab)["backup_bucket_require_tls"] is False
    assert "served over plain HTTP" in lab
