"""One backup run: lock, clear leftovers, ask the server, dump, stream, verify, copy."""

import os
import shutil
import socket
import tempfile
import threading
import time

from .archive import gzip_stream, stream_archive
from .aws import s3_client
from .clock import utc_now, utc_now_text
from .config import compress_threads_for, extension_of
from .dump import check_free_space, dump_summary, mongodump_archive_command, run_mongodump, stream_tool
from .errors import BackupError
from .facts import archive_facts, dump_facts
from .files import private_dir
from .lock import Lock
from .logs import LOG
from .mongo import ask_server
from .mongoarchive import ArchiveFilter
from .oplog import filter_oplog, folders_to_leave_out
from .progress import Progress
from .store import (
    Writes,
    names_for,
    public_url,
    record_checksum,
    retention_tagging,
    server_side_copy,
    set_retention,
    source_of,
)
from .upload import MultipartWriter, part_size_for, verify_upload

SCRATCH_PREFIXES = ("run-", "restore-")


def take_backup(config, now=None, client=None):
    """One whole backup run under the lock; returns the result dict, raises BackupError."""
    with Lock(config["lock_file"]):
        remove_leftovers(config["work_dir"])
        return _take_backup(config, now or utc_now(), client)


def remove_leftovers(work_dir):
    """Removes the scratch directories of earlier runs that were killed (SIGKILL, a reboot):
    holding the lock proves none of them is running."""
    private_dir(work_dir)
    for name in sorted(os.listdir(work_dir)):
        path = os.path.join(work_dir, name)
        if not name.startswith(SCRATCH_PREFIXES):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        LOG.warning("removed %s, left by an earlier run that did not finish", path)


def _take_backup(config, now, client):
    started = time.monotonic()
    backup_format = config["format"]
    names = names_for(now, backup_format)
    prefix, bucket = config["prefix"], config["bucket"]
    key = f"{prefix}{names['name']}.{extension_of(backup_format)}"
    host = socket.gethostname()
    LOG.info("backup %s started on %s (format %s)", names["name"], host, backup_format)
    client = client or s3_client(config)
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:  # noqa: BLE001 - any failure here means: do not start
        raise BackupError(f"S3 bucket {bucket} is not reachable: {exc}") from None
    chosen, reason, databases, estimate = ask_server(config)
    if not chosen:
        LOG.info("skipped: %s", reason)
        return {"status": "skipped", "reason": reason, "host": host, "finished_at": utc_now_text()}
    LOG.info("%s; databases: %s", reason, ", ".join(databases) or "(none)")
    if not databases and not config["oplog"]:
        raise BackupError("there is no database to back up (databases is empty and the server has none)")
    metadata = {
        "tasky-backup": names["name"],
        "format": backup_format,
        "deployment": config["deployment"] or host,
        "host": host,
    }
    LOG.info("compressing on %d thread(s), gzip level %d", compress_threads_for(config), config["compress_level"])
    progress_lines = []
    written = Writes(client, bucket, config["s3_patience_s"])
    if backup_format == "archive":
        # No local dump: mongodump's archive goes through the filter and the compressor straight
        # into the upload. The scratch directory is only for the private users' dump, if any.
        LOG.info("archive format: mongodump --archive streamed to S3, nothing written to local disk")
        try:
            sha256, size, version, dump_bytes, facts, lines = upload_mongodump_archive(
                config, client, key, databases, estimate, metadata, written, host
            )
            progress_lines += lines
            publish(config, client, key, version, names, metadata, written)
            users_key = None
            if config["users_prefix"]:
                users_key = upload_users_archive(config, client, names, metadata, written, host)
        except BaseException:
            written.undo()
            raise
    else:
        check_free_space(config, estimate)
        scratch = tempfile.mkdtemp(prefix="run-", dir=config["work_dir"])
        try:
            dump_dir = os.path.join(scratch, names["name"])
            with Progress("mongodump to disk", estimate, True, config["progress_log_s"]) as progress:
                watch = threading.Thread(target=watch_folder, args=(dump_dir, progress), daemon=True)
                watch.start()
                try:
                    run_mongodump(config, dump_dir, databases)
                finally:
                    progress.stopped.set()
                    watch.join()
            progress_lines += progress.lines
            files, dump_bytes = dump_summary(dump_dir)
            if files == 0:
                raise BackupError(f"mongodump wrote nothing: the databases {', '.join(databases)} are empty or missing")
            LOG.info("dump done: %d files, %d bytes", files, dump_bytes)
            # Only the databases backed up are published: with --oplog the dump holds the whole
            # server (admin's users included), so the rest is left out and the oplog filtered.
            leave_out = folders_to_leave_out(dump_dir, databases)
            if config["oplog"]:
                kept, dropped = filter_oplog(dump_dir, databases)
                LOG.info("oplog.bson: %d entries kept, %d on other databases left out", kept, dropped)
            if leave_out:
                LOG.info("left out of the archive: %s", ", ".join(leave_out))
                # What the archive holds (a restore unpacks this much), not the whole server.
                _files, dump_bytes = dump_summary(dump_dir, leave_out)
                LOG.info("published: %d bytes of the dump", dump_bytes)
            facts = dump_facts(dump_dir, config["mongodump_path"], host, leave_out=leave_out)
            metadata["dump-bytes"] = str(dump_bytes)
            try:
                sha256, size, version = upload_archive(
                    config, client, key, dump_dir, dump_bytes, metadata, written, leave_out, progress_lines
                )
                publish(config, client, key, version, names, metadata, written)
                users_key = None
                if config["users_prefix"]:
                    users_key = upload_users(config, client, names, dump_dir, scratch, metadata, written)
            except BaseException:
                written.undo()
                raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "status": "success",
        "name": names["name"],
        "format": backup_format,
        "key": key,
        "keys": [key, f"{prefix}{names['daily']}", f"{prefix}{names['latest']}"],
        "urls": [public_url(config, k) for k in (key, f"{prefix}{names['latest']}")],
        "bucket": bucket,
        "databases": databases,
        "size": size,
        "sha256": sha256,
        "dump_bytes": dump_bytes,
        "host": host,
        "duration_s": round(time.monotonic() - started, 3),
        "finished_at": utc_now_text(),
        "progress": progress_lines,
        "dump_facts": facts,  # for the catalogue's sidecar; the job takes it out (catalogue.py)
    }
    if users_key:
        result["users_key"] = users_key
    return result


def watch_folder(path, progress, every_s=2.0):
    """Feeds the size of the folder mongodump is writing to the progress, until it stops."""
    seen = 0
    while not progress.stopped.wait(every_s):
        _files, size = dump_summary(path) if os.path.isdir(path) else (0, 0)
        progress.read(size - seen)
        seen = size


def upload_stream(config, client, key, part_size, metadata, written, produce, progress=None):
    """One verified object, tagged to expire, whose bytes `produce(writer)` writes (already
    gzipped), with its sha256 and size in its metadata; returns (sha256, size, the id of the
    verified version). A failure aborts the upload; what was written is in `written`, for the
    run to take back should it fail later."""
    bucket, patience = config["bucket"], config["s3_patience_s"]
    writer = MultipartWriter(
        client,
        bucket,
        key,
        part_size,
        config["upload_threads"],
        metadata,
        patience,
        tagging=retention_tagging(True),
        progress=progress,
    )
    try:
        produce(writer)
        version = writer.complete()
        written.add(key, version)
        sha256, size = writer.sha256.hexdigest(), writer.size
        LOG.info("uploaded s3://%s/%s: %d bytes in %d parts, sha256 %s", bucket, key, size, len(writer.parts), sha256)
        verify_upload(client, bucket, key, writer, version)
    except BaseException:
        writer.abort()
        raise
    metadata.update(sha256=sha256, size=str(size))
    checked = record_checksum(client, bucket, key, version, metadata, patience)
    written.add(key, checked)
    written.drop(key, version)  # the version without the checksum
    set_retention(client, bucket, key, checked, True, patience)
    return sha256, size, checked


def upload_archive(config, client, key, dump_dir, dump_bytes, metadata, written, leave_out, lines=None):
    """Streams the tar.gz of dump_dir, without the top-level folders in leave_out, into one
    verified object; returns (sha256, size, version). The progress lines logged are added to
    `lines`."""
    part_size = part_size_for(dump_bytes, config["part_size_mib"])
    with Progress("tar.gz to S3", dump_bytes, False, config["progress_log_s"]) as progress:
        sha256, size, version = upload_stream(
            config,
            client,
            key,
            part_size,
            metadata,
            written,
            lambda writer: stream_archive(config, dump_dir, writer, leave_out, progress),
            progress,
        )
    if lines is not None:
        lines += progress.lines
    return sha256, size, version


def upload_mongodump_archive(config, client, key, databases, estimate, metadata, written, host, keep=None):
    """mongodump --archive -> ArchiveFilter (only `databases`, or keep(db); the oplog too) ->
    gzip on every core -> one verified object. The part size follows the server's estimate of
    the dump (dbStats dataSize), and parts grow should the dump outrun it. Returns (sha256,
    size, version, bytes mongodump wrote, the dump's facts, the progress lines logged)."""
    wanted = set(databases)
    keep = keep or (lambda db: db in wanted)
    part_size = part_size_for(estimate, config["part_size_mib"])
    cmd = mongodump_archive_command(config, databases)
    where = f"{config['mongodb_host']}:{config['mongodb_port']} as {config['mongodb_user']}"
    LOG.info("mongodump --archive of %s on %s", ", ".join(databases) or "the whole server", where)
    found = {}

    def produce(writer):
        with gzip_stream(writer, config) as gz:
            archive = ArchiveFilter(gz, keep)
            stream_tool(config, "mongodump", cmd, archive, progress)
            archive.close()
            found["archive"] = archive
            # What the archive holds (the namespaces left out not counted), recorded with the checksum.
            metadata["dump-bytes"] = str(archive.bytes_out)

    with Progress("mongodump --archive to S3", estimate, True, config["progress_log_s"]) as progress:
        sha256, size, version = upload_stream(config, client, key, part_size, metadata, written, produce, progress)
    archive = found["archive"]
    if archive.dropped:
        left_out = sorted({db for db, _collection in archive.dropped})
        LOG.info("left out of the archive: %s (%d namespaces)", ", ".join(left_out), len(archive.dropped))
    facts = archive_facts(archive, config["mongodump_path"], host)
    if not any(db for db, _collection in archive.namespaces):  # taken back by the caller: never latest
        raise BackupError(f"mongodump wrote nothing: the databases {', '.join(databases)} are empty or missing")
    return sha256, size, version, archive.bytes_out, facts, progress.lines


def publish(config, client, key, version, names, metadata, written):
    """daily-YYYY-MM-DD (expires with the lifecycle) and latest (never expires) by server-side
    copy of the verified version of the object (not whatever is current by then): one upload
    per backup."""
    bucket, prefix, patience = config["bucket"], config["prefix"], config["s3_patience_s"]
    for alias, expires in ((names["daily"], True), (names["latest"], False)):
        target = f"{prefix}{alias}"
        copied = server_side_copy(client, bucket, source_of(bucket, key, version), target, metadata, patience, expires)
        written.add(target, copied)
        set_retention(client, bucket, target, copied, expires, patience)
        LOG.info("copied to s3://%s/%s", bucket, target)


def upload_users(config, client, names, dump_dir, scratch, metadata, written):
    """Users and roles (the admin database), in a separate archive under the private
    users_prefix that the public policy does not cover; returns its key."""
    source = dump_dir
    if not config["oplog"]:  # with --oplog the whole server, admin included, is in the dump
        source = os.path.join(scratch, "users", names["name"])
        run_mongodump(config, source, ["admin"])
    key = f"{config['users_prefix']}{names['name']}-users.tar.gz"
    others = [name for name in os.listdir(source) if name != "admin"]
    _files, dump_bytes = dump_summary(os.path.join(source, "admin"))
    upload_archive(config, client, key, source, dump_bytes, dict(metadata), written, leave_out=others)
    LOG.info("users and roles in s3://%s/%s (private)", config["bucket"], key)
    return key


def upload_users_archive(config, client, names, metadata, written, host):
    """The archive format's users and roles: `mongodump --db=admin --archive`, streamed like the
    backup, into the private users_prefix; returns its key."""
    key = f"{config['users_prefix']}{names['name']}-users.archive.gz"
    users_config = {**config, "oplog": False}
    upload_mongodump_archive(users_config, client, key, ["admin"], 0, dict(metadata), written, host)
    LOG.info("users and roles in s3://%s/%s (private)", config["bucket"], key)
    return key
