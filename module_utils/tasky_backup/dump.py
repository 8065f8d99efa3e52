"""MongoDB's own tools: mongodump into the scratch directory, and what it wrote."""

import os
import subprocess

from .errors import BackupError
from .logs import LOG


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


def run_mongorestore(config, dump_dir, drop=False, restore_user=None, restore_config=None):
    """mongorestore of an unpacked dump, as restore_user (default: the backup user) with the
    password from restore_config (default: the backup user's file)."""
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
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stderr.splitlines()[-20:]:
        LOG.info("mongorestore: %s", line)
    if proc.returncode != 0:
        raise BackupError(f"mongorestore failed with exit status {proc.returncode}")
