"""The archive format (format: archive): `mongodump --archive` through the engine's filter and
gzip straight into S3, with the real mongodump and mongorestore against pytest's FerretDB and the
lab's RGW. Each test seeds its own database through the server as the application user."""

import gzip
import hashlib
import json
import os
import re
import signal
import struct
import subprocess
import threading
import time

import bson
import requests
import test_engine_faults
from conftest import (
    BACKUP_PASSWORD,
    BACKUP_USER,
    ENDPOINT,
    MONGODB_PORT,
    MONGODUMP,
    allow_anonymous_downloads,
    keys,
    mongorestore_into,
    new_database_name,
    run_engine,
    seed,
    seed_bulk,
    snapshot,
    write_config,
    write_mongo_config,
)
from outage_proxy import OutageProxy
from test_engine_backup import summary
from test_module import adhoc

good_backup = test_engine_faults.good_backup  # the fixture: a first good backup and a snapshot

TIMESTAMPED = re.compile(r"^backups/mongodb-backup-\d{8}-\d{6}\.archive\.gz$")
DAILY = re.compile(r"^backups/daily-\d{4}-\d{2}-\d{2}\.archive\.gz$")


def archive_config(engine_config, **changes):
    path, config = engine_config
    config = {**config, "format": "archive", **changes}
    write_config(path, config)
    return path, config


def namespaces_in(archive):
    """{"db.collection": documents} of a (gunzipped) mongodump archive, read here on its own from
    the format's spec (mongo-tools common/archive/spec.md), not with the engine's reader: the
    prelude's collections, then every segment's documents."""
    assert archive[:4] == struct.pack("<I", 0x8199E26D), "not a mongodump archive"
    pos, found, prelude = 4, {}, True
    header_len = struct.unpack_from("<i", archive, pos)[0]
    pos += header_len
    while pos < len(archive):
        (length,) = struct.unpack_from("<i", archive, pos)
        if length == -1:
            pos += 4
            prelude = False
            continue
        doc = bson.decode(archive[pos : pos + length])
        pos += length
        name = f"{doc['db']}.{doc['collection']}"
        if prelude:
            found.setdefault(name, 0)
            continue
        while True:  # the segment's documents, up to its terminator
            (length,) = struct.unpack_from("<i", archive, pos)
            if length == -1:
                pos += 4
                break
            found[name] = found.get(name, 0) + 1
            pos += length
    return found


def test_archive_backup_downloads_anonymously_and_restores_every_document(
    s3, engine_config, app_db, fresh_db_name, mongo_admin, restore_login, tmp_path
):
    """backup (archive format) -> three identical .archive.gz objects, standard gzip -> anonymous
    download of latest.archive.gz -> the real `mongorestore --archive --gzip` into a database of
    another name: the same documents (raw BSON) and indexes."""
    path, config = archive_config(engine_config)
    seed(app_db)
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = summary(proc)
    bucket = config["bucket"]
    found = [k for k in keys(s3, bucket) if k.endswith(".archive.gz")]
    assert len(found) == 3 and "backups/latest.archive.gz" in found
    (stamped,) = [k for k in found if TIMESTAMPED.match(k)]
    assert [k for k in found if DAILY.match(k)]
    assert result["key"] == stamped and result["format"] == "archive"
    assert not [k for k in keys(s3, bucket) if k.endswith(".tar.gz")]
    bodies = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in found}
    assert len(set(bodies.values())) == 1
    body = bodies[stamped]
    digest = hashlib.sha256(body).hexdigest()
    assert result["sha256"] == digest and result["size"] == len(body)
    meta = s3.head_object(Bucket=bucket, Key=stamped)["Metadata"]
    assert meta["sha256"] == digest and meta["format"] == "archive" and int(meta["dump-bytes"]) > 0

    allow_anonymous_downloads(s3, bucket)
    download = requests.get(f"{ENDPOINT}/{bucket}/backups/latest.archive.gz", timeout=30)
    assert download.status_code == 200 and download.content == body
    archive = tmp_path / "latest.archive.gz"
    archive.write_bytes(download.content)
    subprocess.run(["gzip", "-t", str(archive)], check=True)  # one standard gzip stream
    held = namespaces_in(gzip.decompress(body))
    assert held == {f"{app_db.name}.todos": 200, f"{app_db.name}.users": 20}
    proc = mongorestore_into(archive, app_db.name, fresh_db_name, restore_login)
    assert proc.returncode == 0, proc.stderr
    assert "220 document(s) restored successfully. 0 document(s) failed to restore." in proc.stderr
    assert snapshot(mongo_admin, fresh_db_name) == snapshot(mongo_admin, app_db.name)


def test_a_whole_server_archive_leaves_admin_and_config_out(s3, engine_config, app_db, mongo_admin, tmp_path):
    """Two databases need a whole-server mongodump (--db takes one): it holds admin (every
    user's credentials: FerretDB's admin.system.users here, and a collection written into admin
    by the test), which the engine's filter drops before compression. The private users archive
    (users_prefix) holds admin, and only admin."""
    other = mongo_admin[new_database_name()]
    try:
        seed(app_db, todos=30, users=3)
        other.notes.insert_many([{"_id": i, "text": f"note {i}"} for i in range(7)])
        mongo_admin["admin"]["tasky_test_private"].insert_one({"_id": 1, "secret": "never published"})
        path, config = archive_config(engine_config, databases=[app_db.name, other.name], users_prefix="private/users/")
        proc = run_engine("backup", "--config", str(path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        result = summary(proc)
        body = s3.get_object(Bucket=config["bucket"], Key=result["key"])["Body"].read()
        held = namespaces_in(gzip.decompress(body))
        assert held == {f"{app_db.name}.todos": 30, f"{app_db.name}.users": 3, f"{other.name}.notes": 7}
        assert b"never published" not in gzip.decompress(body)
        # The recorded dump size is what the archive holds (admin's namespaces not counted).
        meta = s3.head_object(Bucket=config["bucket"], Key=result["key"])["Metadata"]
        assert int(meta["dump-bytes"]) == len(gzip.decompress(body)) == result["dump_bytes"]
        log = open(config["log_file"], encoding="utf-8").read()
        assert "left out of the archive: admin" in log
        assert "writing admin." in log or "done dumping admin." in log  # mongodump did dump admin
        users_key = result["users_key"]
        assert users_key.startswith("private/users/") and users_key.endswith("-users.archive.gz")
        users = namespaces_in(gzip.decompress(s3.get_object(Bucket=config["bucket"], Key=users_key)["Body"].read()))
        assert users and {name.split(".")[0] for name in users} == {"admin"}
        assert "admin.tasky_test_private" in users
    finally:
        mongo_admin["admin"].drop_collection("tasky_test_private")
        mongo_admin.drop_database(other.name)


def test_archive_verify_list_catalogue_and_status(s3, engine_config, app_db):
    path, config = archive_config(engine_config)
    seed(app_db, todos=12, users=2)
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    key = summary(proc)["key"]
    verify = run_engine("verify", "--config", str(path))  # latest: latest.archive.gz in this format
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["valid"] and report["format"] == "archive" and report["key"] == "backups/latest.archive.gz"
    assert report["collections"] == [f"{app_db.name}.todos", f"{app_db.name}.users"]
    listed = json.loads(run_engine("list", "--config", str(path)).stdout)
    assert {item["format"] for item in listed} == {"archive"} and len(listed) == 3
    (alias,) = [item for item in listed if item["name"] == "latest.archive.gz"]
    assert alias["copies"] == key
    index = json.loads(s3.get_object(Bucket=config["bucket"], Key="backups/index.json")["Body"].read())
    (entry,) = index["backups"]
    assert entry["format"] == "archive" and entry["facts_recorded"]
    assert entry["databases"] == {
        app_db.name: {
            "todos": {"documents": 12, "indexes": ["_id_", "name_1"]},
            "users": {"documents": 2, "indexes": ["_id_", "email_1"]},
        }
    }
    page = s3.get_object(Bucket=config["bucket"], Key="backups/index.html")["Body"].read().decode()
    name = key[len("backups/") :]
    assert f"--archive={name} --gzip" in page and "tar -xzf" not in page.split('id="recipe">')[1].split("</pre>")[0]
    status = json.loads(run_engine("status", "--config", str(path)).stdout)
    assert status["ok"] and status["key"] == key

    # A damaged archive fails verification (its recorded sha256 no longer matches).
    broken = bytearray(s3.get_object(Bucket=config["bucket"], Key=key)["Body"].read())
    broken[len(broken) // 2] ^= 0xFF
    meta = s3.head_object(Bucket=config["bucket"], Key=key)["Metadata"]
    s3.put_object(Bucket=config["bucket"], Key=key, Body=bytes(broken), Metadata=meta)
    bad = run_engine("verify", "--config", str(path), "--key", key)
    assert bad.returncode == 1


def test_archive_format_writes_nothing_to_local_disk(s3, engine_config, app_db, tmp_path):
    """A 4 MiB dump with the work directory on a 1 MiB file system: the archive format never
    writes there (the tar.gz format would need the dump's size; test_engine_faults shows it
    failing for want of room)."""
    seed_bulk(app_db, 4 << 20)
    small = tmp_path / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(small)], check=True)
    most = {"used": 0}
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            fs = os.statvfs(small)
            most["used"] = max(most["used"], (fs.f_blocks - fs.f_bfree) * fs.f_frsize)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        path, config = archive_config(engine_config, work_dir=str(small))
        proc = run_engine("backup", "--config", str(path))
        stop.set()
        watcher.join()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        result = summary(proc)
        assert result["dump_bytes"] > 4 << 20 and result["size"] > 2 << 20  # half of it random
        assert most["used"] == 0 and os.listdir(small) == []
        assert "free space" not in open(config["log_file"], encoding="utf-8").read()
    finally:
        stop.set()
        subprocess.run(["umount", str(small)], check=True)


def test_an_archive_restore_needs_room_for_the_download_only(
    s3, engine_config, app_db, mongo_admin, restore_login, tmp_path
):
    """The archive format is for hosts whose disk is smaller than their databases: its restore
    downloads the compressed archive and mongorestore reads it, so it needs room for that alone,
    not for the dump (a 4 MiB dump restores through a 4 MiB work directory)."""
    path, config = archive_config(engine_config)
    seed_bulk(app_db, 4 << 20)
    before = snapshot(mongo_admin, app_db.name)
    taken = run_engine("backup", "--config", str(path))
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert summary(taken)["dump_bytes"] > 4 << 20 and summary(taken)["size"] < 3 << 20
    small = tmp_path / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(small)], check=True)
    try:
        write_config(path, {**config, "work_dir": str(small)})
        user, secret = restore_login
        cmd = ["restore", "--config", str(path), "--drop", "--restore-user", user, "--restore-config", secret]
        proc = run_engine(*cmd)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)
    assert "the restore (archive) needs about" in open(config["log_file"], encoding="utf-8").read()
    assert snapshot(mongo_admin, app_db.name) == before


def test_module_backs_up_and_restores_the_archive_format(s3, engine_config, app_db, mongo_admin, restore_login):
    path, _config = archive_config(engine_config)
    seed(app_db)
    before = snapshot(mongo_admin, app_db.name)
    taken = adhoc({"config": str(path)})
    assert taken["changed"] is True, taken.get("msg")
    assert taken["keys"][2] == "backups/latest.archive.gz" and taken["format"] == "archive"
    assert taken["progress"] and "dumped" in taken["progress"][-1]
    verified = adhoc({"config": str(path), "state": "verify", "key": taken["key"]})
    assert verified["valid"] is True and verified["sha256"] == taken["sha256"]
    app_db.todos.drop()
    app_db.users.delete_many({})
    user, secret = restore_login
    args = {"config": str(path), "state": "restore", "key": "latest", "drop": True}
    result = adhoc({**args, "restore_user": user, "restore_config": secret})
    assert result["changed"] is True and result["documents"] == 220, result.get("msg")
    assert snapshot(mongo_admin, app_db.name) == before


def test_progress_lines_in_the_log_at_most_every_interval(engine_config, app_db):
    """A run long enough to report: with the log interval lowered to 1 s (progress_log_s, the
    test hook; 30 s by default) the log gets progress lines with bytes dumped, compressed and
    uploaded, the rate and the time left, at least 1 s apart; the result carries them."""
    seed_bulk(app_db, 24 << 20)
    for backup_format in ("archive", "tar.gz"):
        path, config = archive_config(engine_config, format=backup_format, progress_log_s=1, upload_threads=1)
        open(config["log_file"], "w").close()
        proc = run_engine("backup", "--config", str(path), "-v")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = [line for line in open(config["log_file"], encoding="utf-8") if " progress (" in line]
        assert lines, f"no progress line in the log ({backup_format})"
        last = lines[-1]
        assert re.search(r"MiB of about [\d.]+ MiB dumped|MiB of [\d.]+ MiB dumped", last), last
        for word in ("compressed", "uploaded", "/s", "left", "elapsed"):
            assert word in last, last
        by_phase = {}
        for line in lines:
            stamp = time.mktime(time.strptime(line[:20], "%Y-%m-%dT%H:%M:%SZ"))
            by_phase.setdefault(line.split(" progress (")[1].split(")")[0], []).append(stamp)
        for stamps in by_phase.values():  # one line a second at most; the last one ends the phase
            assert all(b - a >= 1 for a, b in zip(stamps[:-2], stamps[1:-1])), stamps
        assert summary(proc)["progress"]
        assert " progress (" in proc.stderr  # by hand (-v), the terminal shows them too


def test_compression_uses_every_core_unless_capped(engine_config, app_db):
    """compress_threads 0 (the default) is every core this process may use; a number caps it,
    never above the cores there are. The run says how many it used."""
    from tasky_backup.base.settings import SETTINGS, check_settings
    from tasky_backup.formats.gzip import compress_threads, host_cores

    cores = len(os.sched_getaffinity(0))
    assert SETTINGS["compress_threads"].default == 0 and host_cores() == cores
    settings = check_settings({"bucket": "any-bucket"})
    assert compress_threads(settings) == cores
    assert compress_threads(settings.replace(compress_threads=1)) == 1
    assert compress_threads(settings.replace(compress_threads=1000)) == cores
    seed(app_db, todos=5, users=1)
    for cap, threads in ((0, cores), (1, 1)):
        path, config = archive_config(engine_config, compress_threads=cap)
        assert run_engine("backup", "--config", str(path)).returncode == 0
        log = open(config["log_file"], encoding="utf-8").read()
        assert f"compressing on {threads} thread(s), gzip level 6" in log.split("started on")[-1]


def test_archive_sigterm_and_a_hung_mongodump_kill_the_stream_and_lose_nothing(s3, good_backup, app_db):
    """The archive format's streaming path on its own faults: SIGTERM while mongodump streams (the
    server stalled mid-dump) and a hung mongodump past dump_timeout_s. Each time mongodump is
    killed, the multipart upload already started is aborted, and the bucket, the work directory
    and the last success are as they were."""
    from nothing_lost import assert_nothing_lost
    from test_engine_faults import assert_failure_recorded, mongodump_processes, start_engine, wait_for

    path, config, before = good_backup
    seed_bulk(app_db, 8 << 20)
    for timeout, words in ((None, "terminated by SIGTERM"), (10, "mongodump did not finish within 10 s")):
        proxy = OutageProxy(MONGODB_PORT, fail_after_bytes=2 << 20, direction="down", stall=True)
        try:
            changes = {"format": "archive", "mongodb_port": proxy.port, "part_size_mib": 5}
            write_config(path, {**config, **changes, **({"dump_timeout_s": timeout} if timeout else {})})
            engine = start_engine(path)
            wait_for(proxy.stalled.is_set, what="the dump to be under way")
            if timeout is None:
                engine.send_signal(signal.SIGTERM)
            out, err = engine.communicate(timeout=90)
        finally:
            proxy.close()
        proc = subprocess.CompletedProcess(engine.args, engine.returncode, out, err)
        assert_failure_recorded(proc, config, words)
        assert "aborted the multipart upload" in open(config["log_file"], encoding="utf-8").read()
        assert mongodump_processes(config) == []
        assert_nothing_lost(s3, config["bucket"], config, before)


def split_archive(archive):
    """(header, prelude documents, the rest) of a mongodump archive; and its segments as
    [(namespace header, [documents])]."""
    pos = 4
    (length,) = struct.unpack_from("<i", archive, pos)
    header, pos = archive[pos : pos + length], pos + length

    def documents(pos):
        found = []
        while True:
            (length,) = struct.unpack_from("<i", archive, pos)
            if length == -1:
                return found, pos + 4
            found.append(archive[pos : pos + length])
            pos += length

    prelude, pos = documents(pos)
    body, segments = archive[pos:], []
    while pos < len(archive):
        (length,) = struct.unpack_from("<i", archive, pos)
        head = bson.decode(archive[pos : pos + length])
        docs, pos = documents(pos + length)
        segments.append((head, docs))
    return header, prelude, body, segments


def test_the_oplog_of_an_archive_keeps_only_the_backed_up_databases(app_db, tmp_path):
    """An --oplog archive's oplog holds every write made during the dump, admin.system.users
    too. FerretDB keeps no oplog, so the oplog is added here to a real mongodump archive, in the
    format's own shape (prelude entry, segment, EOF header with its CRC-64): the filter keeps
    the entries on the backed-up database (and only those operations of an applyOps), drops the
    rest, and rewrites the EOF header's CRC. The CRC function is first checked against the CRCs
    the real mongodump wrote."""
    from tasky_backup.mongo.archive_stream import MAGIC, ArchiveFilter, crc64, signed64

    app_db.a.insert_many([{"_id": i, "v": "x" * i} for i in range(50)])
    secret = tmp_path / "mongodump.yaml"
    write_mongo_config(secret, BACKUP_PASSWORD)
    cmd = [str(MONGODUMP), "--host=127.0.0.1", f"--port={MONGODB_PORT}", f"--username={BACKUP_USER}"]
    cmd += ["--authenticationDatabase=admin", f"--config={secret}", f"--db={app_db.name}", "--archive"]
    archive = subprocess.run(cmd, capture_output=True, check=True).stdout
    header, prelude, body, segments = split_archive(archive)
    crc = {}
    for head, docs in segments:
        name = f"{head['db']}.{head['collection']}"
        if head["EOF"]:
            assert head["CRC"] == signed64(crc[name]), name  # mongodump's own CRC, recomputed
        for doc in docs:
            crc[name] = crc64(crc.get(name, 0), doc)

    ts = bson.Timestamp(1_700_000_000, 1)
    kept_insert = {"ts": ts, "t": 1, "op": "i", "ns": f"{app_db.name}.a", "o": {"_id": 1000}}
    entries = [
        kept_insert,
        {"ts": ts, "t": 1, "op": "i", "ns": "admin.system.users", "o": {"_id": "admin.x", "credentials": "SECRET-1"}},
        {
            "ts": ts,
            "t": 1,
            "op": "c",
            "ns": "admin.$cmd",
            "o": {
                "applyOps": [
                    {"op": "i", "ns": f"{app_db.name}.a", "o": {"_id": 1001}},
                    {"op": "u", "ns": "admin.system.users", "o": {"x": "SECRET-2"}, "o2": {"_id": 1}},
                ]
            },
        },
        {"ts": ts, "t": 1, "op": "n", "ns": "", "o": {"msg": "periodic noop"}},
    ]
    encoded = [bson.encode(e) for e in entries]
    oplog_crc = 0
    for doc in encoded:
        oplog_crc = crc64(oplog_crc, doc)
    end = struct.pack("<i", -1)
    oplog = {"db": "", "collection": "oplog"}
    with_oplog = b"".join(
        [
            MAGIC,
            header,
            *prelude,
            bson.encode({**oplog, "metadata": "", "size": 0, "type": ""}),
            end,
            body,
            bson.encode({**oplog, "EOF": False, "CRC": 0}),
            *encoded,
            end,
            bson.encode({**oplog, "EOF": True, "CRC": signed64(oplog_crc)}),
            end,
        ]
    )

    class Out:
        data = b""

        def write(self, data):
            self.data += data

    out = Out()
    filtered = ArchiveFilter(out, keep=lambda db: db == app_db.name)
    for start in range(0, len(with_oplog), 97):  # in pieces that cut through documents
        filtered.write(with_oplog[start : start + 97])
    filtered.close()
    assert filtered.oplog_dropped == 2 and b"SECRET" not in out.data
    *_, kept_segments = split_archive(out.data)
    (ops,) = [docs for head, docs in kept_segments if head["collection"] == "oplog" and not head["EOF"]]
    (eof,) = [head for head, _docs in kept_segments if head["collection"] == "oplog" and head["EOF"]]
    assert [bson.decode(op) for op in ops] == [
        kept_insert,
        {**entries[2], "o": {"applyOps": [{"op": "i", "ns": f"{app_db.name}.a", "o": {"_id": 1001}}]}},
    ]
    assert ops[0] == encoded[0]  # an entry kept whole passes byte for byte
    expected = 0
    for op in ops:
        expected = crc64(expected, op)
    assert eof["CRC"] == signed64(expected)
    # The collections' own segments pass untouched.
    assert [s for s in kept_segments if s[0]["collection"] == "a"] == [s for s in segments if s[0]["collection"] == "a"]
