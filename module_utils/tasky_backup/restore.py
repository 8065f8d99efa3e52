"""Restore a backup from S3. It checks before it writes: the archive is downloaded whole into a
root-only scratch directory and its sha256 compared with the one recorded at backup time (a
mongodump archive is also read through to its end), and a backup of another deployment is
refused unless asked for; only then does mongorestore run: on the unpacked folder of a tar.gz,
with `--archive=FILE --gzip` on a mongodump archive (its compressed size on disk, no dump)."""

import hashlib
import os
import shutil
import socket
import tempfile

from .archive import unpack
from .aws import s3_client
from .dump import check_free_space, run_mongorestore
from .errors import BackupError, reported_as
from .files import private_dir
from .lock import Lock
from .logs import LOG
from .store import format_of, resolve_key
from .verify import read_mongodump_archive


@reported_as("restore")
def restore_backup(
    config, key=None, drop=False, client=None, restore_config=None, restore_user=None, allow_other_deployment=False
):
    """Downloads a backup, checks it, unpacks it and runs mongorestore on it.

    The backup user's `backup` role cannot write: a real restore passes a user allowed to
    (restore_user) and a mongorestore --config file with its password (restore_config).
    """
    client = client or s3_client(config)
    key = resolve_key(config, key)
    with Lock(config["lock_file"]):
        private_dir(config["work_dir"])
        # The archive and its unpacked dump both land in the work directory, often on the
        # database's own volume: refuse rather than fill it.
        head = head_of_backup(client, config["bucket"], key)
        needed, what = room_to_restore(key, head)
        check_free_space(config, needed, f"the restore ({what})")
        scratch = tempfile.mkdtemp(prefix="restore-", dir=config["work_dir"])
        try:
            if format_of(key) == "archive":
                archive = os.path.join(scratch, "archive.gz")
                meta = download_checked(client, config["bucket"], key, archive)
                check_deployment(config, key, meta, allow_other_deployment)
                with open(archive, "rb") as stream:
                    read, _names, problems = read_mongodump_archive(key, stream, public=False)
                if problems:
                    raise BackupError(f"{key} cannot be restored: {'; '.join(problems)}")
                oplog = read.has_oplog()
                LOG.info("restoring %s with mongorestore --archive --gzip%s", key, " --drop" if drop else "")
                restored = run_mongorestore(
                    config, None, drop, restore_user, restore_config, archive=archive, oplog=oplog
                )
                return finished(key, drop, restored, meta)
            archive = os.path.join(scratch, "archive.tar.gz")
            meta = download_checked(client, config["bucket"], key, archive)
            check_deployment(config, key, meta, allow_other_deployment)
            with open(archive, "rb") as stream:
                unpack(stream, key, os.path.join(scratch, "dump"))
            tops = os.listdir(os.path.join(scratch, "dump"))
            if len(tops) != 1:
                raise BackupError(f"{key} should unpack to one mongodb-backup-* folder, found {tops}")
            LOG.info("restoring %s with mongorestore%s", key, " --drop" if drop else "")
            restored = run_mongorestore(
                config, os.path.join(scratch, "dump", tops[0]), drop, restore_user, restore_config
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return finished(key, drop, restored, meta)


def room_to_restore(key, head):
    """(bytes, what) a restore of this object needs in the work directory: a tar.gz is
    downloaded and unpacked (the archive and the dump); a mongodump archive is only downloaded,
    mongorestore reads it as it is."""
    if format_of(key) == "archive":
        return head["ContentLength"], "archive"
    dump_bytes = head.get("Metadata", {}).get("dump-bytes", "0")
    return head["ContentLength"] + (int(dump_bytes) if dump_bytes.isdigit() else 0), "archive and dump"


def finished(key, drop, restored, meta):
    LOG.info("restored %s: %d documents", key, restored)
    return {"key": key, "restored": True, "drop": drop, "documents": restored, "sha256": meta["sha256"]}


def head_of_backup(client, bucket, key):
    from botocore.exceptions import ClientError

    try:
        return client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise BackupError(f"there is no backup {key} in s3://{bucket}") from None
        raise


def download_checked(client, bucket, key, path):
    """Downloads key to path and checks it against the sha256 and size in its metadata; returns
    the metadata."""
    obj = client.get_object(Bucket=bucket, Key=key)
    meta = obj.get("Metadata", {})
    if not meta.get("sha256"):
        raise BackupError(f"{key} has no sha256 in its metadata: it was not written by a finished backup")
    digest, size = hashlib.sha256(), 0
    with open(path, "wb") as out:
        for chunk in iter(lambda: obj["Body"].read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if digest.hexdigest() != meta["sha256"] or size != int(meta.get("size", size)):
        raise BackupError(
            f"{key} is damaged: sha256 {digest.hexdigest()} and size {size} differ from the recorded "
            f"{meta['sha256']} and {meta.get('size')}; nothing was restored"
        )
    LOG.info("downloaded %s: %d bytes, sha256 matches the one recorded at backup time", key, size)
    return meta


def check_deployment(config, key, meta, allowed):
    here = config["deployment"] or socket.gethostname()
    there = meta.get("deployment")
    if there and there != here and not allowed:
        raise BackupError(
            f"{key} is a backup of deployment '{there}' (host {meta.get('host', '?')}), not of '{here}'; "
            "nothing was restored (allow_other_deployment restores it anyway)"
        )
