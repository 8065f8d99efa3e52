"""Faults: each failed run exits 1, records the failure (state, log, SUMMARY) and loses nothing.

Every failing backup run here starts from a bucket holding an earlier good backup of the same
day (so a failed run that overwrote latest or daily-* would show) and ends with one check of
everything that must be as it was (nothing_lost.py); a config refused before it is read (exit 2)
is checked to have touched nothing at all. The faults are real where a real part can fail on
demand: S3 (RGW) taken away or refused through a proxy, MongoDB (FerretDB) cut off or hung
through a proxy, a disk filled, a wrong password, signals.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import (
    MONGODB_PORT,
    ROOT,
    S3_PORT,
    run_engine,
    seed,
    seed_bulk,
    write_config,
    write_mongo_config,
)
from fault_proxy import FaultProxy, copy_to, copy_to_pattern
from nothing_lost import assert_nothing_lost, snapshot
from outage_proxy import OutageProxy


@pytest.fixture
def good_backup(s3, engine_config, app_db):
    """A first, successful backup of documents the app wrote, then a snapshot of everything a
    failed run must leave as it is."""
    path, config = engine_config
    seed(app_db, todos=20, users=2)
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    return path, config, snapshot(s3, config["bucket"], config)


def summary(proc):
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("SUMMARY ")]
    return json.loads(line[len("SUMMARY ") :])


def assert_failure_recorded(proc, config, words):
    """Exit 1, a SUMMARY line, the state file and the log all say the run failed, and why."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary(proc)["status"] == "failed" and words in summary(proc)["error"]
    with open(config["state_file"], encoding="utf-8") as handle:
        last_run = json.load(handle)["last_run"]
    assert last_run["status"] == "failed" and words in last_run["error"]
    with open(config["log_file"], encoding="utf-8") as handle:
        assert "ERROR backup failed: " in handle.read()
    assert "Traceback" not in proc.stdout + proc.stderr


def log_of(config):
    with open(config["log_file"], encoding="utf-8") as handle:
        return handle.read()


def test_s3_unreachable_before_start(s3, good_backup):
    path, config, before = good_backup
    write_config(path, {**config, "endpoint_url": "http://127.0.0.1:9"})  # nothing listens there
    proc = run_engine("backup", "--config", str(path))
    assert_failure_recorded(proc, config, "not reachable")
    assert_nothing_lost(s3, config["bucket"], config, before)


@pytest.mark.parametrize("backup_format", ["tar.gz", "archive"])
def test_a_configured_database_that_is_gone_fails_the_run_and_loses_nothing(s3, good_backup, backup_format):
    """The application's database dropped (by mistake, or by an attacker): mongodump --db of a
    database that does not exist exits 0 and writes nothing. The run must fail, naming it, and
    must not replace latest and the day's daily with an empty backup."""
    path, config, before = good_backup
    missing = "tasky_test_database_gone"
    write_config(path, {**config, "format": backup_format, "databases": [missing]})
    proc = run_engine("backup", "--config", str(path))
    assert_failure_recorded(proc, config, f"the database(s) {missing} named in databases do not exist on the server")
    assert f"running {config['mongodump_path']}" not in log_of(config).split("started on")[-1]
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_a_short_s3_outage_mid_upload_is_ridden_out(s3, good_backup, app_db):
    """S3 drops every connection after 7 MiB and refuses new ones for 6 s: the parts in memory
    are retried until it is back, and the backup completes and verifies."""
    path, config, _before = good_backup
    seed_bulk(app_db, 24 << 20)  # half incompressible: the archive needs several 5 MiB parts
    proxy = OutageProxy(S3_PORT, fail_after_bytes=7 << 20, down_for=6)
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint})
        proc = run_engine("backup", "--config", str(path))
    finally:
        proxy.close()
    assert proxy.outages == 1
    assert proc.returncode == 0, proc.stdout
    log = log_of(config)
    assert "S3 went away during" in log and re.search(r"S3 came back after \d+ s during", log)
    write_config(path, config)  # S3 itself again, not the proxy
    assert run_engine("verify", "--config", str(path), "--key", summary(proc)["key"]).returncode == 0


def test_an_s3_outage_longer_than_the_patience_fails_and_loses_nothing(s3, good_backup, app_db):
    path, config, before = good_backup
    seed_bulk(app_db, 24 << 20)
    proxy = OutageProxy(S3_PORT, fail_after_bytes=7 << 20, down_for=12)
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint, "s3_patience_s": 2})
        proc = run_engine("backup", "--config", str(path))
    finally:
        proxy.close()
    assert_failure_recorded(proc, config, "S3 did not come back within 2 s")
    assert "aborted the multipart upload" in log_of(config)  # once S3 was back (the abort waits a minute)
    assert_nothing_lost(s3, config["bucket"], config, before)


STAMPED = r"backups/mongodb-backup-\d{8}-\d{6}\.tar\.gz"


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(copy_to_pattern(STAMPED), id="metadata-rewrite"),
        pytest.param(copy_to_pattern(r"backups/daily-\d{4}-\d{2}-\d{2}\.tar\.gz"), id="daily-copy"),
        pytest.param(copy_to("backups/latest.tar.gz"), id="latest-copy"),
    ],
)
def test_s3_failing_after_the_upload_takes_back_what_the_run_wrote(s3, good_backup, rule):
    """S3 answers 503 to one server-side copy (the metadata rewrite of the new object, the copy
    to daily-*, the copy to latest), past the run's patience: the run fails, and the versions it
    wrote are deleted, so daily-* and latest are the earlier good backup's again."""
    path, config, before = good_backup
    proxy = FaultProxy(S3_PORT, [rule])
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint, "s3_patience_s": 1, "retries": 1})
        proc = run_engine("backup", "--config", str(path))
    finally:
        proxy.close()
    assert proxy.hits, "the fault was never injected"
    assert_failure_recorded(proc, config, "SlowDown")
    assert "took back s3://" in log_of(config)
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_a_part_altered_in_flight_is_refused(s3, good_backup, app_db):
    """One byte of part 2 flipped between this host and S3: S3 refuses the part (its signed
    payload hash no longer matches), the run fails and loses nothing."""
    path, config, before = good_backup
    seed_bulk(app_db, 12 << 20)

    def flip_part_2(method, path, headers):
        return ("flip_byte", 1000) if method == "PUT" and "partNumber=2&" in path + "&" else None

    proxy = FaultProxy(S3_PORT, [flip_part_2])
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint})
        proc = run_engine("backup", "--config", str(path))
    finally:
        proxy.close()
    assert proxy.hits
    assert_failure_recorded(proc, config, "upload of part failed")
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_a_wrong_backup_password_fails_clearly_and_loses_nothing(s3, good_backup):
    """The server refuses the backup user: the run stops before any dump, naming the server and
    user, with the server's own words, and never logs the password."""
    path, config, before = good_backup
    write_mongo_config(path.parent / "mongodump.yaml", "not-the-backup-password")
    proc = run_engine("backup", "--config", str(path))
    assert_failure_recorded(proc, config, f"MongoDB at 127.0.0.1:{MONGODB_PORT} (user backup)")
    assert "Authentication failed" in log_of(config)
    assert f"running {config['mongodump_path']}" not in log_of(config).split("started on")[-1]
    assert "not-the-backup-password" not in log_of(config) + proc.stdout + proc.stderr
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_mongodb_lost_mid_dump_fails_with_mongodumps_own_error(s3, good_backup, app_db):
    """The connection to MongoDB drops once 1 MiB of the dump has come through: the real
    mongodump fails, its own words are in the log, nothing is lost."""
    path, config, before = good_backup
    seed_bulk(app_db, 8 << 20)
    proxy = OutageProxy(MONGODB_PORT, fail_after_bytes=1 << 20, down_for=30, direction="down")
    try:
        write_config(path, {**config, "mongodb_port": proxy.port})
        proc = run_engine("backup", "--config", str(path))
    finally:
        proxy.close()
    assert proxy.outages == 1
    assert_failure_recorded(proc, config, "mongodump failed with exit status 1")
    assert re.search(r"mongodump: .*Failed: ", log_of(config))
    assert_nothing_lost(s3, config["bucket"], config, before)


def mongodump_processes(config):
    """This test's mongodump processes (its own credentials file): other labs on the machine dump too."""
    pattern = f"mongodump --host=.*--config={re.escape(config['mongodump_config'])}"
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return found.stdout.split()


def test_a_hung_mongodump_is_killed_at_the_time_limit(s3, good_backup, app_db):
    """MongoDB stops answering mid-dump (connections open, nothing sent): mongodump is killed at
    dump_timeout_s, the run fails and says so, and no mongodump is left behind."""
    path, config, before = good_backup
    seed_bulk(app_db, 8 << 20)
    proxy = OutageProxy(MONGODB_PORT, fail_after_bytes=1 << 20, direction="down", stall=True)
    try:
        write_config(path, {**config, "mongodb_port": proxy.port, "dump_timeout_s": 10})
        started = time.monotonic()
        proc = run_engine("backup", "--config", str(path))
        took = time.monotonic() - started
    finally:
        proxy.close()
    assert proxy.stalled.is_set()
    assert_failure_recorded(proc, config, "mongodump did not finish within 10 s")
    assert 10 <= took < 60
    assert mongodump_processes(config) == []
    assert_nothing_lost(s3, config["bucket"], config, before)


def start_engine(path, args=None):
    return subprocess.Popen(
        [sys.executable, "-m", "tasky_backup", *(args or ["backup", "--config", str(path)])],
        cwd=ROOT / "module_utils",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(check, timeout=60, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_mid_dump_ends_the_run_cleanly(s3, good_backup, app_db, ending):
    """SIGTERM (systemd, a reboot), SIGHUP (the session of a run by hand dropped), SIGINT
    (Ctrl-C): the run kills mongodump, records its failure and loses nothing."""
    path, config, before = good_backup
    seed_bulk(app_db, 8 << 20)
    proxy = OutageProxy(MONGODB_PORT, fail_after_bytes=1 << 20, direction="down", stall=True)
    try:
        write_config(path, {**config, "mongodb_port": proxy.port})
        engine = start_engine(path)
        wait_for(proxy.stalled.is_set, what="the dump to be under way")
        engine.send_signal(ending)
        out, err = engine.communicate(timeout=60)
    finally:
        proxy.close()
    proc = subprocess.CompletedProcess(engine.args, engine.returncode, out, err)
    assert_failure_recorded(proc, config, f"terminated by {ending.name}")
    assert mongodump_processes(config) == []
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_sigterm_mid_restore_kills_mongorestore_and_removes_the_download(s3, engine_config, app_db, restore_login):
    """A restore run by hand whose session goes away (or that is stopped) while mongorestore
    writes: mongorestore is killed, the downloaded archive and unpacked dump are removed, the
    failure is logged."""
    path, config = engine_config
    seed_bulk(app_db, 8 << 20)
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    user, secret = restore_login
    proxy = OutageProxy(MONGODB_PORT, fail_after_bytes=1 << 20, direction="up", stall=True)
    try:
        write_config(path, {**config, "mongodb_port": proxy.port})
        cmd = ["restore", "--config", str(path), "--restore-user", user, "--restore-config", secret]
        engine = start_engine(path, cmd)
        wait_for(proxy.stalled.is_set, what="mongorestore to be under way")
        assert [name for name in os.listdir(config["work_dir"]) if name.startswith("restore-")]
        engine.send_signal(signal.SIGTERM)
        out, err = engine.communicate(timeout=60)
    finally:
        proxy.close()
    assert engine.returncode == 1, out + err
    assert "terminated by SIGTERM" in err and "Traceback" not in err
    assert "ERROR restore failed: terminated by SIGTERM" in log_of(config)
    assert os.listdir(config["work_dir"]) == []
    pattern = f"mongorestore --host=.*--config={re.escape(secret)}"
    assert subprocess.run(["pgrep", "-f", pattern], capture_output=True, check=False).stdout == b""


def test_sigterm_mid_upload_aborts_the_upload_and_removes_the_dump(s3, good_backup, app_db):
    """Measured before the fix: the whole dump was left in the work directory, an incomplete
    multipart upload in the bucket and no record of the run."""
    path, config, before = good_backup
    seed_bulk(app_db, 16 << 20)
    proxy = OutageProxy(S3_PORT, rate=2 << 20)  # a slow link: the upload takes a few seconds
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint})
        engine = start_engine(path)
        wait_for(lambda: s3.list_multipart_uploads(Bucket=config["bucket"]).get("Uploads"), what="the upload")
        engine.send_signal(signal.SIGTERM)
        out, err = engine.communicate(timeout=120)
    finally:
        proxy.close()
    proc = subprocess.CompletedProcess(engine.args, engine.returncode, out, err)
    assert_failure_recorded(proc, config, "terminated by SIGTERM")
    assert "aborted the multipart upload" in log_of(config)
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_leftovers_of_a_killed_run_are_removed_at_the_next_start(s3, engine_config, app_db, tmp_path):
    """A run killed with SIGKILL (or a reboot) leaves its scratch directory; the next run, holding
    the lock, removes it and says so; a planted symlink is removed, not followed."""
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    work = config["work_dir"]
    os.makedirs(f"{work}/run-killed/mongodb-backup-x/db", mode=0o700)
    with open(f"{work}/run-killed/mongodb-backup-x/db/c.bson", "wb") as handle:
        handle.write(os.urandom(1 << 20))
    os.makedirs(f"{work}/restore-killed", mode=0o700)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the engine's")
    os.symlink(outside, f"{work}/run-planted")
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    assert os.listdir(work) == []
    assert (outside / "keep.txt").read_text() == "not the engine's"
    log = log_of(config)
    for name in ("run-killed", "restore-killed", "run-planted"):
        assert f"removed {work}/{name}, left by an earlier run" in log


def test_a_disk_filled_by_another_writer_during_the_dump(s3, good_backup, app_db, tmp_path):
    """The free-space check passed, then another process filled the disk while mongodump wrote:
    mongodump's own error, nothing lost, no scratch left."""
    path, config, before = good_backup
    seed_bulk(app_db, 4 << 20)
    small = tmp_path / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(small)], check=True)
    stop = threading.Event()

    def fill_when_the_run_starts():
        while not stop.is_set():
            if any(name.startswith("run-") for name in os.listdir(small)):
                with open(small / "filler", "wb") as handle:
                    try:
                        while True:
                            handle.write(bytes(1 << 20))
                    except OSError:
                        return
            time.sleep(0.001)

    filler = threading.Thread(target=fill_when_the_run_starts, daemon=True)
    filler.start()
    try:
        write_config(path, {**config, "work_dir": str(small), "min_free_percent": 0})
        proc = run_engine("backup", "--config", str(path))
        stop.set()
        filler.join()
        assert_failure_recorded(proc, config, "mongodump failed")
        assert "no space left on device" in log_of(config)
        assert os.listdir(small) == ["filler"]
        assert_nothing_lost(s3, config["bucket"], config, before)
    finally:
        stop.set()
        subprocess.run(["umount", str(small)], check=True)


def test_not_enough_free_space_refuses_before_the_dump(s3, good_backup, app_db, tmp_path, cloudwatch):
    """The databases would not fit and leave min_free_percent free: no dump starts, the run
    fails with a clear error, a failure metric, and loses nothing."""
    from test_engine_metrics import datapoints, with_metrics

    path, config, before = good_backup
    seed_bulk(app_db, 4 << 20)
    small = tmp_path / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(small)], check=True)
    try:
        namespace = with_metrics(path, {**config, "work_dir": str(small)})
        proc = run_engine("backup", "--config", str(path))
        assert_failure_recorded(proc, config, f"not enough free space in {small}")
        assert "10% (" in summary(proc)["error"]
        assert f"running {config['mongodump_path']}" not in log_of(config).split("started on")[-1]
        assert os.listdir(small) == []
        assert datapoints(cloudwatch, namespace, "BackupSuccess", config["bucket"], "Maximum") == [0.0]
        assert_nothing_lost(s3, config["bucket"], config, before)
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_a_locked_out_run_exits_75_and_records_who_holds_the_lock(s3, good_backup):
    """A run that finds the lock held touches nothing but the log and the state file's
    last_locked (so a stuck run shows in status-check.sh); the last run and success stay."""
    from tasky_backup.base.lock import Lock

    path, config, before = good_backup
    with open(config["state_file"], encoding="utf-8") as handle:
        state_before = json.load(handle)
    with Lock(config["lock_file"]):  # a run in progress, in this process
        proc = run_engine("backup", "--config", str(path))
        status = json.loads(run_engine("status", "--config", str(path)).stdout)
    assert proc.returncode == 75
    assert summary(proc)["status"] == "locked" and "another backup is running since" in summary(proc)["error"]
    with open(config["state_file"], encoding="utf-8") as handle:
        state = json.load(handle)
    assert {k: state[k] for k in ("last_run", "last_success")} == {
        k: state_before[k] for k in ("last_run", "last_success")
    }
    assert f"(pid {os.getpid()})" in state["last_locked"]["error"]
    assert status["running_since"] and status["last_locked"]["at"]
    assert "WARNING another backup is running since" in log_of(config)
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_a_lock_directory_others_can_write_is_refused(s3, good_backup, tmp_path):
    path, config, before = good_backup
    shared = tmp_path / "shared-lock-dir"
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)
    write_config(path, {**config, "lock_file": str(shared / "backup.lock")})
    proc = run_engine("backup", "--config", str(path))
    assert_failure_recorded(proc, config, "is writable by others (mode 1777)")
    assert not (shared / "backup.lock").exists()
    assert_nothing_lost(s3, config["bucket"], config, before)


def test_a_symlink_planted_at_the_log_file_is_not_followed(s3, good_backup, tmp_path):
    """A local user who plants /var/log/mongodb-backup.log -> /etc/something must not make root
    append there: the run refuses the log, still records its failure (state, SUMMARY, stderr),
    from cron's backup.sh and from the module alike, and loses nothing."""
    from test_module import adhoc

    path, config, _ = good_backup
    os.rename(config["log_file"], config["log_file"] + ".1")  # rotated away, then replaced
    before = snapshot(s3, config["bucket"], config)
    target = tmp_path / "victim"
    target.write_text("precious\n")
    os.symlink(target, config["log_file"])
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 1
    assert target.read_text() == "precious\n"
    assert summary(proc)["status"] == "failed" and "cannot open" in summary(proc)["error"]
    with open(config["state_file"], encoding="utf-8") as handle:
        assert json.load(handle)["last_run"]["status"] == "failed"
    assert "Traceback" not in proc.stderr
    with open(config["state_file"], encoding="utf-8") as handle:
        state = json.load(handle)
    del state["last_run"]  # so the module's run must write it again
    with open(config["state_file"], "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    result = adhoc({"config": str(path), "state": "backup"})
    assert result["failed"] is True and "cannot open" in result["msg"] and result["status"] == "failed"
    with open(config["state_file"], encoding="utf-8") as handle:
        assert json.load(handle)["last_run"]["status"] == "failed"
    assert target.read_text() == "precious\n"
    assert_nothing_lost(s3, config["bucket"], config, before)  # before: no log (rotated away)


def test_a_log_file_of_another_user_is_refused(s3, good_backup):
    path, config, _ = good_backup
    os.unlink(config["log_file"])
    before = snapshot(s3, config["bucket"], config)
    with open(config["log_file"], "w", encoding="utf-8") as handle:
        handle.write("planted\n")
    os.chown(config["log_file"], 65534, 65534)  # nobody
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 1
    assert "belongs to uid 65534" in summary(proc)["error"]
    with open(config["log_file"], encoding="utf-8") as handle:
        assert handle.read() == "planted\n"
    assert_nothing_lost(s3, config["bucket"], config, {**before, "log": ["planted"]})


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"bucket": None}, "bucket"),
        ({"bucket": "Not_A_Bucket"}, "Not_A_Bucket"),
        ({"colour": "blue"}, "colour"),
        ({"parallel_collections": 0}, "parallel_collections"),
        ({"oplog": "yes"}, "oplog"),
        ({"databases": ["admin"]}, "'admin' is never published"),
        ({"databases": "go-mongodb"}, "databases must be a list"),
        ({"users_prefix": "backups/users/"}, "users_prefix"),
        ({"min_free_percent": 95}, "min_free_percent"),
        ({"dump_timeout_s": 1}, "dump_timeout_s"),
        ({"s3_patience_s": -1}, "s3_patience_s"),
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
    assert s3.list_objects_v2(Bucket=config["bucket"]).get("KeyCount") == 0


def test_missing_config_file_is_named(tmp_path):
    proc = run_engine("backup", "--config", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and "nope.json" in proc.stderr


def test_a_status_check_at_the_moment_a_backup_starts_does_not_lock_it_out(s3, engine_config, app_db):
    """status-check.sh probes the lock with a shared flock for an instant; a backup starting in
    that instant (monitoring polling on the minute, cron at 02:00) takes the lock a moment later
    instead of exiting "locked" and losing its night."""
    import fcntl

    path, config = engine_config
    seed(app_db, todos=2, users=1)
    os.makedirs(os.path.dirname(config["lock_file"]), mode=0o700, exist_ok=True)
    probe = os.open(config["lock_file"], os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # what running_since holds, here for longer
        engine = start_engine(path)
        time.sleep(0.5)
        fcntl.flock(probe, fcntl.LOCK_UN)
        out, err = engine.communicate(timeout=120)
    finally:
        os.close(probe)
    assert engine.returncode == 0, out + err
    assert summary(subprocess.CompletedProcess(engine.args, 0, out, err))["status"] == "success"
