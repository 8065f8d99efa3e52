"""Restore a backup from S3: download, unpack in a root-only scratch directory, mongorestore."""

import os
import shutil
import tempfile

from .archive import unpack
from .aws import s3_client
from .dump import run_mongorestore
from .errors import BackupError, reported_as
from .lock import Lock
from .logs import LOG
from .store import resolve_key


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
            unpack(body, key, scratch)
            tops = os.listdir(scratch)
            if len(tops) != 1:
                raise BackupError(f"{key} should unpack to one mongodb-backup-* folder, found {tops}")
            LOG.info("restoring %s with mongorestore%s", key, " --drop" if drop else "")
            run_mongorestore(config, os.path.join(scratch, tops[0]), drop, restore_user, restore_config)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"key": key, "restored": True, "drop": drop}
