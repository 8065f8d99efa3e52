"""One backup run: lock, dump, stream, verify, copy; the job around it writes state, metrics and
the SUMMARY line."""

import json
import os
import shutil
import tempfile
import time

from .archive import stream_archive
from .aws import s3_client
from .clock import utc_now, utc_now_text
from .dump import dump_summary, run_mongodump
from .errors import EXIT_LOCKED, BackupError, Locked
from .lock import Lock
from .logs import LOG
from .metrics import publish_metrics
from .state import write_state
from .store import MultipartWriter, names_for, public_url, record_checksum, server_side_copy, verify_upload


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
