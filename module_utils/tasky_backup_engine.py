#!/usr/bin/python3
"""The tasky MongoDB backup engine: one implementation for the cron job and the Ansible module.

The module `tasky_backup` imports this file as `ansible.module_utils.tasky_backup_engine`; the
`mongodb_backup` role copies the same file to /opt/mongodb-backup/, where backup.sh and
status-check.sh run it as a command (`python3 tasky_backup_engine.py backup|list|...`).

One backup: lock -> mongodump (credentials from a 0600 config file) -> tar.gz streamed into an
S3 multipart upload (nothing written to local disk but the dump) -> verify size and multipart
ETag -> sha256 and size into the object's metadata -> server-side copies to daily-YYYY-MM-DD and
latest -> state file, summary line, cleanup. Needs only the standard library and boto3.
"""

import argparse
import collections
import concurrent.futures
import datetime
import fcntl
import functools
import gzip
import hashlib
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

DEFAULT_CONFIG = "/etc/mongodb-backup/backup.json"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # UTC, in the log, the state file and every result
EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; nothing was touched
LOG = logging.getLogger("tasky-backup")

# Every setting the engine knows, with its default (None: required).
SETTINGS = {
    "bucket": None,
    "prefix": "backups/",
    "region": "us-east-1",
    "endpoint_url": "",
    "access_key": "",
    "secret_key": "",
    "public_base_url": "",
    "mongodb_host": "127.0.0.1",
    "mongodb_port": 27017,
    "mongodb_user": "backup",
    "mongodb_auth_db": "admin",
    "mongodump_config": "/etc/mongodb-backup/mongodump.yaml",
    "mongodump_path": "mongodump",
    "mongorestore_path": "mongorestore",
    "oplog": False,
    "parallel_collections": 4,
    "work_dir": "/var/lib/mongodb-backup",
    "lock_file": "/run/lock/mongodb-backup.lock",
    "log_file": "/var/log/mongodb-backup.log",
    "state_file": "/var/lib/mongodb-backup/state.json",
    "retries": 5,
    "part_size_mib": 8,
    "upload_threads": 2,
    "compress_level": 6,
    "compress_threads": min(os.cpu_count() or 1, 4),
    "schedule": "0 2 * * *",
    "max_age_hours": 26,
    "cloudwatch_namespace": "",
    "cloudwatch_endpoint_url": "",
}


class BackupError(Exception):
    """A failure with a message fit for the log and the operator."""


class Locked(BackupError):
    """Another backup run holds the lock."""


def reported_as(action):
    """Turns any failure of the decorated call (S3 errors included) into a BackupError."""

    def decorate(func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except BackupError:
                raise
            except Exception as exc:
                raise BackupError(f"{action} failed: {type(exc).__name__}: {exc}") from exc

        return run

    return decorate


def load_config(path=DEFAULT_CONFIG, overrides=None):
    """Reads the JSON config, applies overrides and checks every value before any work."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        if not overrides:
            raise BackupError(f"config file {path} not found") from None
        data = {}
    except (OSError, ValueError) as exc:
        raise BackupError(f"config file {path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise BackupError(f"config file {path} must hold a JSON object")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return check_config(data, source=path)


def check_config(data, source="config"):
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise BackupError(f"{source}: unknown option(s): {', '.join(unknown)}")
    config = {**SETTINGS, **data}
    missing = [k for k, v in config.items() if v is None or (SETTINGS[k] is None and v == "")]
    if missing:
        raise BackupError(f"{source}: missing required option(s): {', '.join(missing)}")
    if not valid_bucket_name(config["bucket"]):
        raise BackupError(f"{source}: bucket '{config['bucket']}' is not a valid S3 bucket name")
    prefix = config["prefix"]
    if not prefix.endswith("/") or prefix.startswith("/"):
        raise BackupError(f"{source}: prefix '{prefix}' must look like 'backups/'")
    for key, low, high in (
        ("mongodb_port", 1, 65535),
        ("parallel_collections", 1, 64),
        ("retries", 1, 20),
        ("part_size_mib", 5, 512),
        ("upload_threads", 1, 16),
        ("compress_level", 1, 9),
        ("compress_threads", 1, 32),
        ("max_age_hours", 1, 24 * 366),
    ):
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BackupError(f"{source}: {key} must be an integer from {low} to {high}, got {value!r}")
    if not isinstance(config["oplog"], bool):
        raise BackupError(f"{source}: oplog must be true or false, got {config['oplog']!r}")
    return config


def valid_bucket_name(name):
    if not isinstance(name, str) or not 3 <= len(name) <= 63 or ".." in name:
        return False
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    return set(name) <= allowed and name[0].isalnum() and name[-1].isalnum()


def setup_logging(config, verbose=False):
    """UTC-timestamped lines to the log file (and stderr when run by hand)."""
    LOG.setLevel(logging.INFO)
    LOG.handlers.clear()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", TIME_FORMAT)
    formatter.converter = time.gmtime
    if config.get("log_file"):
        file_handler = logging.FileHandler(config["log_file"], encoding="utf-8")
        file_handler.setFormatter(formatter)
        LOG.addHandler(file_handler)
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        LOG.addHandler(stream)


def aws_client(config, service, endpoint_url, **options):
    """A boto3 client with the config's region and, for non-AWS servers, endpoint and keys
    (empty keys: boto3's own chain, the instance role in production)."""
    import boto3
    from botocore.config import Config

    try:  # botocore >= 1.36 adds checksums by default, which older S3 servers reject.
        client_config = Config(request_checksum_calculation="when_required", **options)
    except TypeError:
        client_config = Config(**options)
    kwargs = {"region_name": config["region"], "config": client_config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if config["access_key"]:
        kwargs["aws_access_key_id"] = config["access_key"]
        kwargs["aws_secret_access_key"] = config["secret_key"]
    return boto3.client(service, **kwargs)


def s3_client(config):
    """S3 client; retries come from botocore's standard retry mode."""
    return aws_client(
        config,
        "s3",
        config["endpoint_url"],
        retries={"mode": "standard", "max_attempts": config["retries"]},
        connect_timeout=10,
        read_timeout=60,
    )


def names_for(now):
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return {
        "name": f"mongodb-backup-{stamp}",
        "daily": f"daily-{now.strftime('%Y-%m-%d')}.tar.gz",
        "latest": "latest.tar.gz",
    }


def public_url(config, key):
    base = config["public_base_url"]
    if not base:
        if config["endpoint_url"]:
            base = f"{config['endpoint_url'].rstrip('/')}/{config['bucket']}"
        else:
            base = f"https://{config['bucket']}.s3.{config['region']}.amazonaws.com"
    return f"{base.rstrip('/')}/{key}"


class Lock:
    """An exclusive, non-blocking flock; released when the process ends, however it ends."""

    def __init__(self, path):
        self.path = path
        self.handle = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise Locked(f"another backup is running (lock {self.path} is held); nothing done") from None
        return self

    def __exit__(self, *exc):
        self.handle.close()


class ChunkingWriter:
    """A write-only file object that hands what is written on in chunks of a fixed size."""

    def __init__(self, chunk_size):
        self.chunk_size = chunk_size
        self.buffer = bytearray()

    def write(self, data):
        self.buffer += data
        while len(self.buffer) >= self.chunk_size:
            self._chunk(bytes(self.buffer[: self.chunk_size]))
            del self.buffer[: self.chunk_size]
        return len(data)

    def _rest(self):
        """The last, short chunk."""
        rest = bytes(self.buffer)
        self.buffer.clear()
        return rest


class MultipartWriter(ChunkingWriter):
    """A write-only file object that streams into an S3 multipart upload.

    Parts are uploaded by worker threads while the caller keeps compressing; at most
    `threads + 1` parts are in memory at once. Keeps the sha256 and size of everything written
    and the MD5 of each part, from which S3's multipart ETag can be checked.
    """

    def __init__(self, client, bucket, key, part_size, threads, metadata):
        super().__init__(part_size)
        self.client, self.bucket, self.key = client, bucket, key
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.parts = {}
        self.part_md5s = {}
        self.next_part = 1
        self.error = None
        self.upload_id = client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType="application/gzip", Metadata=metadata
        )["UploadId"]
        self.queue = queue.Queue(maxsize=threads)
        self.workers = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for worker in self.workers:
            worker.start()

    def _work(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            number, body = item
            try:
                if self.error is None:
                    etag = self.client.upload_part(
                        Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
                    )["ETag"]
                    self.parts[number] = etag
            except Exception as exc:  # noqa: BLE001 - reported to the writer thread
                self.error = exc

    def write(self, data):
        if self.error is not None:
            raise BackupError(f"upload of part failed: {self.error}")
        self.sha256.update(data)
        self.size += len(data)
        return super().write(data)

    def _chunk(self, body):
        self.part_md5s[self.next_part] = hashlib.md5(body, usedforsecurity=False).digest()
        self.queue.put((self.next_part, body))
        self.next_part += 1

    def _join(self):
        for _ in self.workers:
            self.queue.put(None)
        for worker in self.workers:
            worker.join()

    def complete(self):
        if self.buffer or self.next_part == 1:
            self._chunk(self._rest())
        self._join()
        if self.error is not None:
            raise BackupError(f"upload of part failed: {self.error}")
        parts = [{"PartNumber": n, "ETag": self.parts[n]} for n in sorted(self.parts)]
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
        )

    def abort(self, patience_s=60):
        """Aborts the upload, retrying through a short outage; past that the lifecycle rule
        (abort incomplete multipart uploads after a day) removes it."""
        self.error = self.error or BackupError("aborted")
        self._join()
        deadline = time.monotonic() + patience_s
        while True:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
                LOG.info("aborted the multipart upload of s3://%s/%s", self.bucket, self.key)
                return
            except Exception as exc:  # noqa: BLE001 - retried, then left to the lifecycle rule
                if time.monotonic() > deadline:
                    LOG.error("could not abort the multipart upload (the lifecycle removes it in a day): %s", exc)
                    return
                time.sleep(1)

    def expected_etag(self):
        digests = b"".join(self.part_md5s[n] for n in sorted(self.part_md5s))
        return f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(self.part_md5s)}"'


def run_mongodump(config, out_dir):
    cmd = [
        config["mongodump_path"],
        f"--host={config['mongodb_host']}",
        f"--port={config['mongodb_port']}",
        f"--username={config['mongodb_user']}",
        f"--authenticationDatabase={config['mongodb_auth_db']}",
        # The password is in this root-only file, never in argv.
        f"--config={config['mongodump_config']}",
        f"--out={out_dir}",
        f"--numParallelCollections={config['parallel_collections']}",
    ]
    if config["oplog"]:
        cmd.append("--oplog")
    LOG.info("mongodump of %s:%s as %s", config["mongodb_host"], config["mongodb_port"], config["mongodb_user"])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"cannot run {config['mongodump_path']}: {exc}") from None
    for line in proc.stderr.splitlines()[-20:]:
        LOG.info("mongodump: %s", line)
    if proc.returncode != 0:
        raise BackupError(f"mongodump failed with exit status {proc.returncode}")


def dump_summary(dump_dir):
    files, size = 0, 0
    for root, _dirs, names in os.walk(dump_dir):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    return files, size


class ParallelGzipWriter(ChunkingWriter):
    """Gzip on several cores: the stream is cut into chunks compressed in threads (zlib frees
    the GIL) and written, in order, as consecutive gzip members. A multi-member gzip file is
    plain gzip to gzip, tar -xz and Python's gzip module (RFC 1952, section 2.2)."""

    def __init__(self, out, level, threads, chunk_size=4 << 20):
        super().__init__(chunk_size)
        self.out, self.level = out, level
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads)
        self.pending = collections.deque()
        self.max_pending = threads + 1

    def _chunk(self, chunk):
        self.pending.append(self.pool.submit(gzip.compress, chunk, self.level, mtime=0))
        while len(self.pending) >= self.max_pending:
            self.out.write(self.pending.popleft().result())

    def close(self):
        if self.buffer or not self.pending:
            self._chunk(self._rest())
        while self.pending:
            self.out.write(self.pending.popleft().result())
        self.pool.shutdown()


def stream_archive(config, dump_dir, writer):
    """tar.gz of dump_dir (arcname: its basename) written straight into the S3 writer."""
    gz = ParallelGzipWriter(writer, config["compress_level"], config["compress_threads"])
    try:
        with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(dump_dir, arcname=os.path.basename(dump_dir))
        gz.close()
    finally:
        gz.pool.shutdown(cancel_futures=True)


def take_backup(config, now=None, client=None):
    """One whole backup run under the lock; returns the result dict, raises BackupError."""
    with Lock(config["lock_file"]):
        return _take_backup(config, now or utc_now(), client)


def _take_backup(config, now, client):
    started = time.monotonic()
    names = names_for(now)
    prefix, bucket = config["prefix"], config["bucket"]
    key = f"{prefix}{names['name']}.tar.gz"
    LOG.info("backup %s started", names["name"])
    client = client or s3_client(config)
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:  # noqa: BLE001 - any failure here means: do not start
        raise BackupError(f"S3 bucket {bucket} is not reachable: {exc}") from None
    os.makedirs(config["work_dir"], mode=0o700, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="run-", dir=config["work_dir"])
    writer = None
    try:
        dump_dir = os.path.join(scratch, names["name"])
        run_mongodump(config, dump_dir)
        files, dump_bytes = dump_summary(dump_dir)
        if files == 0:
            raise BackupError("mongodump wrote nothing")
        LOG.info("dump done: %d files, %d bytes", files, dump_bytes)
        metadata = {"tasky-backup": names["name"], "dump-bytes": str(dump_bytes)}
        writer = MultipartWriter(client, bucket, key, config["part_size_mib"] << 20, config["upload_threads"], metadata)
        stream_archive(config, dump_dir, writer)
        writer.complete()
        sha256, size = writer.sha256.hexdigest(), writer.size
        LOG.info("uploaded s3://%s/%s: %d bytes in %d parts, sha256 %s", bucket, key, size, len(writer.parts), sha256)
        verify_upload(client, bucket, key, size, writer.expected_etag())
        writer = None  # complete and verified: nothing left to abort
        metadata.update(sha256=sha256, size=str(size))
        record_checksum(client, bucket, key, metadata)
        for alias in (names["daily"], names["latest"]):
            server_side_copy(client, bucket, {"Bucket": bucket, "Key": key}, f"{prefix}{alias}", metadata)
            LOG.info("copied to s3://%s/%s%s", bucket, prefix, alias)
    except BaseException as exc:
        if writer is not None:
            writer.abort()
        if isinstance(exc, BackupError):
            raise
        if isinstance(exc, Exception):
            raise BackupError(f"{type(exc).__name__}: {exc}") from exc
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "status": "success",
        "name": names["name"],
        "key": key,
        "keys": [key, f"{prefix}{names['daily']}", f"{prefix}{names['latest']}"],
        "urls": [public_url(config, k) for k in (key, f"{prefix}{names['latest']}")],
        "bucket": bucket,
        "size": size,
        "sha256": sha256,
        "dump_bytes": dump_bytes,
        "duration_s": round(time.monotonic() - started, 3),
        "finished_at": utc_now_text(),
    }


def verify_upload(client, bucket, key, size, expected_etag):
    head = client.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] != size:
        raise BackupError(f"uploaded object has {head['ContentLength']} bytes, expected {size}")
    if head["ETag"] != expected_etag:
        raise BackupError(f"uploaded object's ETag {head['ETag']} does not match the parts sent ({expected_etag})")
    LOG.info("verified s3://%s/%s: size and multipart ETag match", bucket, key)


# CopyObject copies at most 5 GiB; boto3's managed copy switches to a multipart copy
# (UploadPartCopy, still server-side) from this size on.
COPY_MULTIPART_THRESHOLD = 5 << 30
COPY_PART_SIZE = 512 << 20


def server_side_copy(client, bucket, source, key, metadata):
    """Copies inside S3 (no bytes through this host), setting the backup's metadata."""
    from boto3.s3.transfer import TransferConfig

    client.copy(
        source,
        bucket,
        key,
        ExtraArgs={"Metadata": metadata, "MetadataDirective": "REPLACE", "ContentType": "application/gzip"},
        Config=TransferConfig(multipart_threshold=COPY_MULTIPART_THRESHOLD, multipart_chunksize=COPY_PART_SIZE),
    )


def record_checksum(client, bucket, key, metadata):
    """Puts sha256 and size into the object's metadata (known only once the upload ended).

    A server-side copy onto itself replaces the metadata; the version it replaced is removed so
    a versioned bucket keeps one version of each timestamped backup.
    """
    original = client.head_object(Bucket=bucket, Key=key).get("VersionId")
    source = {"Bucket": bucket, "Key": key}
    if original and original != "null":
        source["VersionId"] = original
    server_side_copy(client, bucket, source, key, metadata)
    if original and original != "null":
        client.delete_object(Bucket=bucket, Key=key, VersionId=original)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def utc_now_text():
    return utc_now().strftime(TIME_FORMAT)


@reported_as("list")
def list_backups(config, client=None):
    client = client or s3_client(config)
    paginator = client.get_paginator("list_objects_v2")
    backups = []
    for page in paginator.paginate(Bucket=config["bucket"], Prefix=config["prefix"]):
        for item in page.get("Contents", []):
            backups.append(
                {
                    "key": item["Key"],
                    "size": item["Size"],
                    "last_modified": item["LastModified"].strftime(TIME_FORMAT),
                    "url": public_url(config, item["Key"]),
                }
            )
    return sorted(backups, key=lambda b: b["key"])


def resolve_key(config, key):
    if not key or key == "latest":
        return f"{config['prefix']}latest.tar.gz"
    return key if key.startswith(config["prefix"]) else f"{config['prefix']}{key}"


class HashingReader:
    """Reads a stream, hashing and counting what passes."""

    def __init__(self, stream):
        self.stream, self.sha256, self.size = stream, hashlib.sha256(), 0

    def read(self, n=-1):
        data = self.stream.read(n)
        self.sha256.update(data)
        self.size += len(data)
        return data


@reported_as("verify")
def verify_backup(config, key=None, client=None):
    """Downloads a backup as a stream: checks its sha256 and size and lists the archive."""
    client = client or s3_client(config)
    key = resolve_key(config, key)
    obj = client.get_object(Bucket=config["bucket"], Key=key)
    meta = obj.get("Metadata", {})
    reader = HashingReader(obj["Body"])
    members = []
    try:
        with gzip.GzipFile(fileobj=reader, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            members = [m.name for m in tar]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{key} is not a readable tar.gz: {exc}") from None
    while reader.read(1 << 20):
        pass
    sha256 = reader.sha256.hexdigest()
    problems = []
    if meta.get("sha256") and meta["sha256"] != sha256:
        problems.append(f"sha256 {sha256} differs from the recorded {meta['sha256']}")
    if meta.get("size") and int(meta["size"]) != reader.size:
        problems.append(f"size {reader.size} differs from the recorded {meta['size']}")
    if not meta.get("sha256"):
        problems.append("no sha256 recorded in the object metadata")
    bson = [m for m in members if m.endswith(".bson")]
    if not bson:
        problems.append("the archive holds no .bson file")
    return {
        "key": key,
        "valid": not problems,
        "problems": problems,
        "size": reader.size,
        "sha256": sha256,
        "recorded_sha256": meta.get("sha256", ""),
        "members": len(members),
        "collections": sorted(bson),
    }


@reported_as("restore")
def restore_backup(config, key=None, drop=False, client=None, restore_config=None, restore_user=None):
    """Downloads a backup, unpacks it and runs mongorestore on it.

    The backup user's `backup` role cannot write: a real restore passes a user allowed to
    (restore_user) and a mongorestore --config file with its password (restore_config).
    """
    client = client or s3_client(config)
    key = resolve_key(config, key)
    with Lock(config["lock_file"]):
        os.makedirs(config["work_dir"], mode=0o700, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix="restore-", dir=config["work_dir"])
        try:
            body = client.get_object(Bucket=config["bucket"], Key=key)["Body"]
            with gzip.GzipFile(fileobj=body, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
                for member in tar:
                    if not safe_member(member):
                        raise BackupError(f"{key} holds an unsafe path: {member.name}")
                    tar.extract(member, scratch)
            tops = os.listdir(scratch)
            if len(tops) != 1:
                raise BackupError(f"{key} should unpack to one mongodb-backup-* folder, found {tops}")
            dump_dir = os.path.join(scratch, tops[0])
            cmd = [
                config["mongorestore_path"],
                f"--host={config['mongodb_host']}",
                f"--port={config['mongodb_port']}",
                f"--username={restore_user or config['mongodb_user']}",
                f"--authenticationDatabase={config['mongodb_auth_db']}",
                f"--config={restore_config or config['mongodump_config']}",
                f"--dir={dump_dir}",
            ]
            if drop:
                cmd.append("--drop")
            if os.path.exists(os.path.join(dump_dir, "oplog.bson")):
                cmd.append("--oplogReplay")
            LOG.info("restoring %s with mongorestore%s", key, " --drop" if drop else "")
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            for line in proc.stderr.splitlines()[-20:]:
                LOG.info("mongorestore: %s", line)
            if proc.returncode != 0:
                raise BackupError(f"mongorestore failed with exit status {proc.returncode}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"key": key, "restored": True, "drop": drop}


def safe_member(member):
    name = member.name
    return (member.isfile() or member.isdir()) and not name.startswith("/") and ".." not in name.split("/")


def write_state(config, result):
    """Records the last run's result, and the last success, for status-check.sh and the module;
    returns the new state."""
    state = read_state(config)
    state["last_run"] = result
    if result.get("status") == "success":
        state["last_success"] = result
    os.makedirs(os.path.dirname(config["state_file"]), exist_ok=True)
    tmp = f"{config['state_file']}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    os.replace(tmp, config["state_file"])
    return state


def read_state(config):
    try:
        with open(config["state_file"], encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def publish_metrics(config, result, state):
    """CloudWatch metrics of a run, best-effort: a metrics failure never fails a backup."""
    if not config["cloudwatch_namespace"]:
        return
    try:
        success = result.get("status") == "success"
        dims = [{"Name": "Bucket", "Value": config["bucket"]}]
        data = [{"MetricName": "BackupSuccess", "Value": 1.0 if success else 0.0, "Unit": "Count"}]
        data.append({"MetricName": "BackupDuration", "Value": float(result.get("duration_s", 0)), "Unit": "Seconds"})
        if success:
            data.append({"MetricName": "BackupSize", "Value": float(result["size"]), "Unit": "Bytes"})
        age = backup_age_seconds(state)
        if age is not None:
            data.append({"MetricName": "LastSuccessAge", "Value": age, "Unit": "Seconds"})
        for item in data:
            item["Dimensions"] = dims
        # Short timeouts and few attempts: metrics must not hold up the backup's exit.
        cloudwatch = aws_client(
            config,
            "cloudwatch",
            config["cloudwatch_endpoint_url"],
            retries={"mode": "standard", "max_attempts": 2},
            connect_timeout=5,
            read_timeout=10,
        )
        cloudwatch.put_metric_data(Namespace=config["cloudwatch_namespace"], MetricData=data)
        LOG.info("published %d metrics to CloudWatch namespace %s", len(data), config["cloudwatch_namespace"])
    except Exception as exc:  # noqa: BLE001 - best-effort by design
        LOG.warning("could not publish CloudWatch metrics: %s", exc)


def backup_age_seconds(state):
    finished = state.get("last_success", {}).get("finished_at")
    if not finished:
        return None
    then = datetime.datetime.strptime(finished, TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)
    return (utc_now() - then).total_seconds()


def backup_job(config):
    """A backup with state file, metrics and summary line; returns the result, failed or not.

    Raises Locked (and touches nothing) when another run holds the lock.
    """
    started = time.monotonic()
    try:
        result = take_backup(config)
    except Locked:
        raise
    except BackupError as exc:
        LOG.error("backup failed: %s", exc)
        result = {
            "status": "failed",
            "error": str(exc),
            "duration_s": round(time.monotonic() - started, 3),
            "finished_at": utc_now_text(),
        }
    publish_metrics(config, result, write_state(config, result))
    LOG.info("SUMMARY %s", json.dumps(result, sort_keys=True))
    return result


def run_backup_job(config):
    """What cron runs (through backup.sh): exit status 0 success, 1 failure, 75 locked."""
    try:
        result = backup_job(config)
    except Locked as exc:
        LOG.warning("%s", exc)
        print(f"SUMMARY {json.dumps({'status': 'locked', 'error': str(exc)})}")
        return EXIT_LOCKED
    print(f"SUMMARY {json.dumps(result, sort_keys=True)}")
    return 0 if result["status"] == "success" else 1


def next_run(schedule, now):
    """Next time of a daily 'M H * * *' schedule; None for other shapes."""
    fields = schedule.split()
    if len(fields) != 5 or fields[2:] != ["*", "*", "*"] or not (fields[0].isdigit() and fields[1].isdigit()):
        return None
    candidate = now.replace(hour=int(fields[1]), minute=int(fields[0]), second=0, microsecond=0)
    if candidate <= now:
        candidate += datetime.timedelta(days=1)
    return candidate


def status_report(config, client=None):
    """Last success, its age, size and key, next run, S3 reachability; ok is False when too old."""
    state = read_state(config)
    last = state.get("last_success", {})
    age = backup_age_seconds(state)
    upcoming = next_run(config["schedule"], utc_now())
    try:
        (client or s3_client(config)).head_bucket(Bucket=config["bucket"])
        reachable = True
    except Exception:  # noqa: BLE001 - reported, not raised
        reachable = False
    fresh = age is not None and age <= config["max_age_hours"] * 3600
    return {
        "ok": fresh,
        "last_success": last.get("finished_at"),
        "age_hours": round(age / 3600, 2) if age is not None else None,
        "max_age_hours": config["max_age_hours"],
        "size": last.get("size"),
        "key": last.get("key"),
        "last_run_status": state.get("last_run", {}).get("status"),
        "next_run": upcoming.strftime(TIME_FORMAT) if upcoming else config["schedule"],
        "s3_reachable": reachable,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="tasky MongoDB backup engine")
    parser.add_argument("action", choices=["backup", "list", "verify", "restore", "status"])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--key", help="backup key or name (verify, restore); default latest")
    parser.add_argument("--drop", action="store_true", help="restore: drop collections first")
    parser.add_argument("--restore-user", help="restore: MongoDB user allowed to write (default: the backup user)")
    parser.add_argument("--restore-config", help="restore: mongorestore --config file with that user's password")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr too")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except BackupError as exc:
        print(f"tasky-backup: {exc}", file=sys.stderr)
        return 2
    os.umask(0o077)
    setup_logging(config, verbose=args.verbose)
    if args.action == "backup":
        return run_backup_job(config)
    try:
        if args.action == "list":
            result = list_backups(config)
        elif args.action == "verify":
            result = verify_backup(config, args.key)
        elif args.action == "restore":
            result = restore_backup(
                config, args.key, args.drop, restore_config=args.restore_config, restore_user=args.restore_user
            )
        else:
            result = status_report(config)
    except Locked as exc:
        print(f"tasky-backup: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except BackupError as exc:
        LOG.error("%s failed: %s", args.action, exc)
        print(f"tasky-backup: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    if args.action == "verify":
        return 0 if result["valid"] else 1
    if args.action == "status":
        return 0 if result["ok"] else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
