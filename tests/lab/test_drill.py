"""The restore drill (issue 11) against the real parts: backups taken by the engine with MongoDB's
real mongodump from pytest's FerretDB into the lab's RGW, restored by the real mongorestore into
scratch databases drill_<db> of the same server, as a drill user of its own, compared with the
sidecar recorded at dump time, then dropped. Metrics read back from the lab's CloudWatch (moto)."""

import io
import json
import os
import socket
import subprocess
import tarfile

import bson
import pytest
from conftest import (
    BIN,
    DRILL_PASSWORD,
    FERRETDB_FAKE_OPLOG_MONGODUMP,
    MONGODUMP,
    resign,
    run_engine,
    seed,
    seed_bulk,
    snapshot,
    write_config,
)
from test_engine_metrics import datapoints
from test_module import adhoc


def backup(path):
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SUMMARY ")]
    return json.loads(lines[-1][len("SUMMARY ") :])


def run_drill(path, *args):
    """backup.sh --drill as cron runs it (python3 -m tasky_backup drill); returns (rc, result)."""
    proc = run_engine("drill", "--config", str(path), *args)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the drill printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def scratch_gone(mongo_admin, db):
    return f"drill_{db}" not in mongo_admin.list_database_names()


def status(path):
    proc = run_engine("status", "--config", str(path))
    return proc.returncode, json.loads(proc.stdout)


def test_a_drill_of_a_good_backup_passes_reports_counts_and_time_and_drops_its_scratch_databases(
    s3, cloudwatch, drill_config, app_db, mongo_admin
):
    path, config = drill_config
    seed(app_db)  # 200 todos, 20 users, indexes name_1 and email_1
    before = snapshot(mongo_admin, app_db.name)
    taken = backup(path)

    rc, result = run_drill(path)

    assert rc == 0, result
    db = app_db.name
    assert (result["status"], result["ok"], result["differences"]) == ("ok", True, [])
    assert result["key"] == "backups/latest.tar.gz" and result["backup_key"] == taken["key"]
    assert result["sha256"] == taken["sha256"] and result["databases"] == {db: f"drill_{db}"}
    assert result["compared"] == {
        f"{db}.todos": {
            "documents": 200,
            "indexes": ["_id_", "name_1"],
            "expected": {"documents": 200, "indexes": ["_id_", "name_1"]},
        },
        f"{db}.users": {
            "documents": 20,
            "indexes": ["_id_", "email_1"],
            "expected": {"documents": 20, "indexes": ["_id_", "email_1"]},
        },
    }
    assert result["documents"] == 220
    # The measured recovery time: download + sha256 + unpack, then mongorestore.
    assert 0 < result["restore_s"] < result["recovery_s"] <= result["duration_s"]
    assert result["recovery_s"] == pytest.approx(result["download_s"] + result["restore_s"], abs=0.002)
    figures = {k: result[k] for k in ("download_s", "restore_s", "recovery_s", "duration_s")}
    print(f"drill figures: {json.dumps(figures)}")
    # The scratch database is gone and the real one untouched.
    assert result["scratch_dropped"] is True and scratch_gone(mongo_admin, db)
    assert snapshot(mongo_admin, db) == before
    log = open(config["log_file"], encoding="utf-8").read()
    assert f"restoring {db} into drill_{db}" in log and f"dropped the scratch database(s) drill_{db}" in log
    assert "DRILL SUMMARY {" in log and DRILL_PASSWORD not in log

    # The state file and status-check.sh show it; the metrics read back (per bucket and host:
    # moto adds the per-host points into a query by Bucket alone).
    state = json.loads(open(config["state_file"], encoding="utf-8").read())
    assert state["last_drill"]["status"] == "ok" and state["last_drill_success"]["key"] == "backups/latest.tar.gz"
    assert "compared" not in state["last_drill"]  # the per-collection detail stays in the result
    rc, report = status(path)
    assert rc == 0 and report["ok"], report
    assert report["drill_enabled"] is True and report["last_drill"]["status"] == "ok"
    assert report["last_drill_success"] == result["finished_at"] and report["drill_age_days"] < 0.01
    host, namespace, bucket = socket.gethostname(), config["cloudwatch_namespace"], config["bucket"]
    assert datapoints(cloudwatch, namespace, "RestoreDrillSuccess", bucket, host=host) == [1.0]
    (duration,) = datapoints(cloudwatch, namespace, "RestoreDrillDuration", bucket, "Maximum", host=host)
    assert duration == pytest.approx(result["recovery_s"])


def rewrite_archive(s3, config, key, change):
    """Replaces the archive at key by one whose files went through change(name, data), signed
    again by the host (conftest's resign): the download check passes, what is inside is damaged."""
    obj = s3.get_object(Bucket=config["bucket"], Key=key)
    members = []
    with tarfile.open(fileobj=io.BytesIO(obj["Body"].read()), mode="r:gz") as tar:
        for member in tar:
            members.append((member, tar.extractfile(member).read() if member.isfile() else None))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            if data is None:
                tar.addfile(member)
                continue
            data = change(member.name, data)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    resign(s3, config, key, out.getvalue())


def test_a_drill_of_an_archive_with_a_truncated_bson_fails_and_names_the_collection(
    s3, cloudwatch, drill_config, app_db, mongo_admin
):
    path, config = drill_config
    seed(app_db)
    before = snapshot(mongo_admin, app_db.name)
    backup(path)
    db = app_db.name

    def truncate_todos(name, data):  # the last document loses its last 7 bytes
        return data[:-7] if name.endswith(f"/{db}/todos.bson") else data

    rewrite_archive(s3, config, "backups/latest.tar.gz", truncate_todos)

    rc, result = run_drill(path)

    assert rc == 1 and result["status"] == "failed" and result["ok"] is False
    print("truncated-bson drill says:", result["differences"])
    # mongorestore's own error names the collection, and so does the count against the record.
    (failed,) = [d for d in result["differences"] if d.startswith("mongorestore failed")]
    assert f"drill_{db}.todos" in failed and "unexpected EOF" in failed
    assert f"{db}.todos: 200 documents at dump time, 199 restored" in result["differences"]
    # The other collection's documents are all there (mongorestore stops before building the
    # indexes once a collection failed, so users' email_1 is reported missing too).
    assert result["compared"][f"{db}.users"]["documents"] == 20
    assert result["compared"].get(f"{db}.todos", {}).get("documents", 0) < 200
    assert result["scratch_dropped"] is True and scratch_gone(mongo_admin, db)
    assert snapshot(mongo_admin, db) == before
    rc, report = status(path)
    assert rc == 1 and not report["ok"]
    assert any(p.startswith("the last restore drill (") and f"{db}.todos" in p for p in report["problems"])
    host, namespace, bucket = socket.gethostname(), config["cloudwatch_namespace"], config["bucket"]
    assert datapoints(cloudwatch, namespace, "RestoreDrillSuccess", bucket, host=host) == [0.0]


def archive_format(path, config):
    config = {**config, "format": "archive"}
    write_config(path, config)
    return config


def test_a_drill_of_an_archive_format_backup_restores_it_with_mongorestore_archive(
    s3, drill_config, app_db, mongo_admin
):
    """The archive format (mongodump --archive, gzipped): no unpacking, mongorestore reads the
    downloaded archive itself (--archive --gzip) into the scratch databases."""
    path, config = drill_config
    config = archive_format(path, config)
    seed(app_db)
    before = snapshot(mongo_admin, app_db.name)
    taken = backup(path)
    assert taken["key"].endswith(".archive.gz")

    rc, result = run_drill(path)

    assert rc == 0, result
    db = app_db.name
    assert result["key"] == "backups/latest.archive.gz" and result["backup_key"] == taken["key"]
    assert result["differences"] == [] and result["documents"] == 220
    assert result["compared"][f"{db}.todos"] == {
        "documents": 200,
        "indexes": ["_id_", "name_1"],
        "expected": {"documents": 200, "indexes": ["_id_", "name_1"]},
    }
    assert result["scratch_dropped"] is True and scratch_gone(mongo_admin, db)
    assert snapshot(mongo_admin, db) == before
    log = open(config["log_file"], encoding="utf-8").read()
    assert "--archive=" in log and f"--nsTo=drill_{db}.*" in log


def test_a_drill_of_an_archive_format_backup_missing_a_document_fails_and_names_the_collection(
    s3, drill_config, app_db, mongo_admin
):
    """One document of todos taken out of the archive (signed again by the host, so the download
    check passes): the drill restores and counts, and says which collection came back short."""
    import gzip

    from tasky_backup.mongo.archive_stream import MAGIC
    from test_engine_archive import split_archive

    path, config = drill_config
    archive_format(path, config)
    seed(app_db)
    before = snapshot(mongo_admin, app_db.name)
    backup(path)
    db, key = app_db.name, "backups/latest.archive.gz"
    obj = s3.get_object(Bucket=config["bucket"], Key=key)
    header, prelude, _body, segments = split_archive(gzip.decompress(obj["Body"].read()))
    end = (-1).to_bytes(4, "little", signed=True)
    parts = [MAGIC, header, *prelude, end]
    dropped = False
    for head, docs in segments:
        if head["collection"] == "todos" and docs and not dropped:
            docs, dropped = docs[1:], True
        parts += [bson.encode(head), *docs, end]
    assert dropped
    resign(s3, config, key, gzip.compress(b"".join(parts)))

    rc, result = run_drill(path)

    assert rc == 1 and result["status"] == "failed", result
    print("archive drill with a missing document says:", result.get("differences") or result.get("error"))
    said = " ".join(result.get("differences") or [result.get("error", "")])
    assert f"{db}.todos" in said
    assert scratch_gone(mongo_admin, db)
    assert snapshot(mongo_admin, db) == before


def test_a_drill_that_would_fill_the_disk_is_refused_before_it_downloads(drill_config, app_db, mongo_admin, tmp_path):
    """The drill downloads and unpacks the backup, and mongorestore writes the scratch databases,
    usually on the database's own volume: like the backup, it refuses to start when that would
    leave less than min_free_percent free, and names what it needed."""
    path, config = drill_config
    seed_bulk(app_db, 2 << 20)
    backup(path)
    small = tmp_path / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(small)], check=True)
    try:
        write_config(path, {**config, "work_dir": str(small)})
        rc, result = run_drill(path)
        assert rc == 1 and result["status"] == "failed", result
        said = f"not enough free space in {small}: the restore drill (archive and dump, and the scratch databases)"
        assert said in result["error"]
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert scratch_gone(mongo_admin, app_db.name)
    assert "running " + config["mongorestore_path"] not in open(config["log_file"], encoding="utf-8").read()


def test_a_drill_while_a_backup_holds_the_lock_exits_locked_and_touches_nothing(drill_config, app_db, mongo_admin):
    from tasky_backup.base.lock import Lock

    path, config = drill_config
    seed(app_db, todos=5, users=1)
    backup(path)
    with Lock(config["lock_file"]):  # a backup in progress, in this process
        rc, result = run_drill(path)
    assert rc == 75 and result["status"] == "locked"
    assert "another backup is running since" in result["error"]
    assert scratch_gone(mongo_admin, app_db.name)
    state = json.loads(open(config["state_file"], encoding="utf-8").read())
    assert "last_drill" not in state  # nothing ran: nothing to record


def test_a_drill_never_touches_a_drill_database_it_did_not_make(drill_config, app_db, mongo_admin):
    path, _config = drill_config
    seed(app_db, todos=5, users=1)
    backup(path)
    theirs = mongo_admin[f"drill_{app_db.name}"]
    theirs.precious.insert_one({"_id": 1, "note": "not the drill's"})
    rc, result = run_drill(path)
    assert rc == 1 and result["status"] == "failed"
    assert f"drill_{app_db.name} exist and were not made by a restore drill" in result["error"]
    assert "nothing was restored" in result["error"]
    assert theirs.list_collection_names() == ["precious"]
    assert theirs.precious.find_one() == {"_id": 1, "note": "not the drill's"}


def test_a_scratch_database_left_by_a_killed_drill_is_dropped_first(drill_config, app_db, mongo_admin):
    from tasky_backup.mongo.scratch import MARKER

    path, _config = drill_config
    seed(app_db, todos=5, users=1)
    backup(path)
    left = mongo_admin[f"drill_{app_db.name}"]
    left[MARKER].insert_one({"_id": "drill", "drill": "an earlier one"})
    left.todos.insert_one({"_id": "half-restored"})
    rc, result = run_drill(path)
    assert rc == 0, result
    assert result["compared"][f"{app_db.name}.todos"]["documents"] == 5  # not 6: dropped first
    assert scratch_gone(mongo_admin, app_db.name)


def test_a_drill_never_replays_an_oplog_into_the_real_databases(drill_config, app_db, mongo_admin, monkeypatch):
    """A replica set member's dump has oplog.bson, whose entries name the real namespaces: the
    drill leaves it out (the engine's restore replays it). Dumped here through the fake-oplog
    wrapper (tests/lab/fixtures/ferretdb_fake_oplog_mongodump: FerretDB keeps no oplog)."""
    path, config = drill_config
    seed(app_db, todos=5, users=1)
    write_config(path, {**config, "oplog": True, "mongodump_path": str(FERRETDB_FAKE_OPLOG_MONGODUMP)})
    monkeypatch.setenv("TASKY_REAL_MONGODUMP", str(MONGODUMP))
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")  # the wrapper needs pymongo's bson
    backup(path)
    rc, result = run_drill(path)
    assert rc == 0, result
    assert "oplog.bson is left out of the drill" in open(config["log_file"], encoding="utf-8").read()
    assert scratch_gone(mongo_admin, app_db.name)


def test_a_drill_without_a_record_of_the_dump_fails_saying_so(s3, drill_config, app_db, mongo_admin):
    """No manifest: the backup cannot be trusted, and nothing is restored. Accepted as a backup
    from before manifests (allow_unsigned), it restores, and the drill says it has nothing to
    compare with."""
    path, config = drill_config
    seed(app_db, todos=5, users=1)
    taken = backup(path)
    for suffix in (".json", ".json.sig"):  # as a backup taken before manifests
        s3.delete_object(Bucket=config["bucket"], Key=taken["key"] + suffix)
    write_config(path, {**config, "signed_since": "2099-01-01T00:00:00Z"})
    rc, result = run_drill(path, "--key", taken["key"])
    assert rc == 1 and result["key"] == taken["key"]
    assert f"{taken['key']} has no manifest: it cannot be trusted" in result["error"]
    assert "running " + config["mongorestore_path"] not in open(config["log_file"], encoding="utf-8").read()
    rc, result = run_drill(path, "--key", taken["key"], "--allow-unsigned")
    assert rc == 1 and result["key"] == taken["key"]
    assert result["differences"] == [
        f"no record of what {taken['key']} held at dump time (its manifest {taken['key']}.json is missing or "
        "unreadable): nothing to compare the restore with"
    ]
    assert scratch_gone(mongo_admin, app_db.name)


def test_a_drill_without_a_drill_login_is_refused_before_any_work(engine_config, app_db, mongo_admin):
    path, _config = engine_config
    seed(app_db, todos=2, users=1)
    backup(path)
    rc, result = run_drill(path)
    assert rc == 1 and "no drill login configured (drill_user, drill_config)" in result["error"]
    assert scratch_gone(mongo_admin, app_db.name)


def test_the_module_runs_a_drill_without_reporting_a_change(drill_config, app_db, mongo_admin):
    path, config = drill_config
    seed(app_db, todos=5, users=1)
    taken = backup(path)
    checked = adhoc({"config": str(path), "state": "drill"}, check=True)
    assert checked["changed"] is False and "would drill" in checked["msg"]
    assert "last_drill" not in json.loads(open(config["state_file"], encoding="utf-8").read())

    result = adhoc({"config": str(path), "state": "drill", "key": taken["key"].removeprefix("backups/")})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False and result["ok"] is True and result["status"] == "ok"
    assert result["key"] == taken["key"] and result["documents"] == 6 and result["recovery_s"] > 0
    assert scratch_gone(mongo_admin, app_db.name)

    mongo_admin[f"drill_{app_db.name}"].theirs.insert_one({"_id": 1})
    refused = adhoc({"config": str(path), "state": "drill"})
    assert refused["failed"] is True and f"drill_{app_db.name} exist and were not made" in refused["msg"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"drill_max_age_days": 0}, "drill_max_age_days"),
        ({"drill_max_age_days": "7"}, "drill_max_age_days"),
        ({"drill_user": "backup-drill", "drill_config": "relative.yaml"}, "drill_config"),
        ({"drill_schedule": "weekly"}, "drill_schedule"),
        ({"drill_user": ["backup-drill"]}, "drill_user"),
    ],
)
def test_bad_drill_settings_are_refused_before_any_work(engine_config, change, named):
    path, config = engine_config
    write_config(path, {**config, **change})
    proc = run_engine("drill", "--config", str(path))
    assert proc.returncode == 2 and named in proc.stderr


def test_a_member_that_skips_the_drill_records_it_and_is_not_reported_late(drill_config, app_db, monkeypatch):
    """On a replica set only the primary drills. A member that was primary (and drilled) and is
    now a secondary skips: the skip is recorded, and its old last success is not a "too old"
    problem (the primary drills, and the bucket-wide alarm watches that). FerretDB runs no
    replica set, so the member's answer is injected here: writable_here says "not the primary"."""
    import tasky_backup.ops.drill as drill_module
    from tasky_backup.actions import perform
    from tasky_backup.base.settings import load_settings
    from tasky_backup.ops.status import drill_status

    path, config = drill_config
    seed(app_db, todos=2, users=1)
    backup(path)
    assert run_drill(path)[0] == 0
    state_file = config["state_file"]
    with open(state_file, encoding="utf-8") as handle:
        state = json.load(handle)
    state["last_drill_success"]["finished_at"] = "2026-01-01T00:00:00Z"  # long ago, as primary
    with open(state_file, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    loaded = load_settings(str(path))
    _, problems = drill_status(loaded, state)
    assert any("days old" in p for p in problems)  # as primary, that would be late

    monkeypatch.setattr(drill_module, "writable_here", lambda _client: (False, "db2:27017 is not the primary"))
    result = perform("drill", loaded).result
    assert result["status"] == "skipped" and result["reason"] == "db2:27017 is not the primary"
    with open(state_file, encoding="utf-8") as handle:
        state = json.load(handle)
    assert state["last_drill"]["status"] == "skipped" and state["last_drill"]["finished_at"]
    fields, problems = drill_status(loaded, state)
    assert problems == [] and fields["last_drill"]["reason"] == "db2:27017 is not the primary"
