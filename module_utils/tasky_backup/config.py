"""The engine's settings: every option, its default, and the checks made before any work."""

import json
import os
import re

from .errors import BackupError

DEFAULT_CONFIG = "/etc/mongodb-backup/backup.json"

# Never in the public archive: admin holds every user's SCRAM credentials (system.users),
# config and local are the server's own.
PRIVATE_DATABASES = ("admin", "config", "local")

# The formats of a backup: (what a run uploads, its file name's extension).
FORMATS = ("tar.gz", "archive")

# Every setting the engine knows, with its default (None: required).
SETTINGS = {
    "bucket": None,
    "prefix": "backups/",
    "region": "us-east-1",
    "endpoint_url": "",
    "access_key": "",
    "secret_key": "",
    # Or, for S3 servers without instance roles: an AWS shared-credentials file (its [default]
    # keys), root-only, so that this configuration holds no secret.
    "credentials_file": "",
    "public_base_url": "",
    "mongodb_host": "127.0.0.1",
    "mongodb_port": 27017,
    "mongodb_user": "backup",
    "mongodb_auth_db": "admin",
    "mongodump_config": "/etc/mongodb-backup/mongodump.yaml",
    "mongodump_path": "mongodump",
    "mongorestore_path": "mongorestore",
    "oplog": False,
    # Databases in the public archive; empty: every database but admin, config and local.
    "databases": [],
    # A private prefix for a separate archive of users and roles (admin); empty: none is made.
    "users_prefix": "",
    # Recorded with each backup; a restore refuses a backup of another deployment unless told.
    "deployment": "",
    "parallel_collections": 4,
    "work_dir": "/var/lib/mongodb-backup",
    # In its own root-only directory, not in the world-writable /run/lock.
    "lock_file": "/run/mongodb-backup/backup.lock",
    "log_file": "/var/log/mongodb-backup.log",
    "state_file": "/var/lib/mongodb-backup/state.json",
    "retries": 5,
    # How long a run waits out an S3 outage (parts in memory are retried) before it fails.
    "s3_patience_s": 300,
    # Time limit of each mongodump and mongorestore.
    "dump_timeout_s": 6 * 3600,
    # A dump must leave at least this share of the work directory's file system free.
    "min_free_percent": 10,
    # What is uploaded: "tar.gz" (mongodump's folders, packed: the seed's format, `tar -xzf`)
    # or "archive" (`mongodump --archive` streamed, gzipped: no local dump at all;
    # `mongorestore --archive --gzip`).
    "format": "tar.gz",
    "part_size_mib": 8,
    "upload_threads": 2,
    "compress_level": 6,
    # Compression threads: 0 is every core of the host (compress_threads_for); a number caps it.
    "compress_threads": 0,
    # A progress line goes to the log at most this often (and to the terminal every 5 s when
    # run by hand).
    "progress_log_s": 30,
    "schedule": "0 2 * * *",
    "max_age_hours": 26,
    "cloudwatch_namespace": "",
    "cloudwatch_endpoint_url": "",
    # The restore drill (drill.py): the user it restores as (allowed to write; empty: no drill)
    # and the root-only mongorestore --config file with its password; how old the last good
    # drill may be before status-check.sh says so; its cron schedule, shown by status-check.sh.
    "drill_user": "",
    "drill_config": "/etc/mongodb-backup/mongorestore-drill.yaml",
    "drill_max_age_days": 7,
    "drill_schedule": "",
    # The engine's own Python environment on the host (pymongo, boto3, pinned); the module
    # imports them from there. Empty: the running Python has them.
    "venv": "",
}


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
        ("compress_threads", 0, 1024),
        ("max_age_hours", 1, 24 * 366),
        ("s3_patience_s", 0, 3600),
        ("dump_timeout_s", 10, 7 * 24 * 3600),
        ("min_free_percent", 0, 90),
        ("drill_max_age_days", 1, 366),
        ("progress_log_s", 1, 3600),
    ):
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BackupError(f"{source}: {key} must be an integer from {low} to {high}, got {value!r}")
    if config["format"] not in FORMATS:
        raise BackupError(f"{source}: format must be one of {', '.join(FORMATS)}, got {config['format']!r}")
    if not isinstance(config["oplog"], bool):
        raise BackupError(f"{source}: oplog must be true or false, got {config['oplog']!r}")
    check_databases(config["databases"], source)
    check_drill(config, source)
    users_prefix = config["users_prefix"]
    if users_prefix and (not FOLDER.match(users_prefix) or users_prefix.startswith(prefix)):
        raise BackupError(
            f"{source}: users_prefix '{users_prefix}' must look like 'private/users/' and lie outside "
            f"the public prefix '{prefix}'"
        )
    return config


def check_drill(config, source):
    """The drill's login: strings; a drill user needs its credentials file, an absolute path."""
    for key in ("drill_user", "drill_config", "drill_schedule"):
        if not isinstance(config[key], str):
            raise BackupError(f"{source}: {key} must be a string, got {config[key]!r}")
    if config["drill_user"] and not os.path.isabs(config["drill_config"]):
        raise BackupError(
            f"{source}: drill_config must be the absolute path of the drill user's mongorestore --config file, "
            f"got {config['drill_config']!r}"
        )
    if config["drill_schedule"] and len(config["drill_schedule"].split()) != 5:
        raise BackupError(f"{source}: drill_schedule must be five cron fields, got {config['drill_schedule']!r}")


FOLDER = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$")


def check_databases(databases, source):
    """A list of MongoDB database names, none of them admin, config or local."""
    if not isinstance(databases, list) or not all(isinstance(name, str) for name in databases):
        raise BackupError(f"{source}: databases must be a list of database names, got {databases!r}")
    for name in databases:
        if not name or len(name) > 63 or set(name) & set('/\\. "$*<>:|?'):
            raise BackupError(f"{source}: databases: '{name}' is not a valid MongoDB database name")
        if name in PRIVATE_DATABASES:
            raise BackupError(
                f"{source}: databases: '{name}' is never published (admin holds every user's credentials); "
                "use users_prefix for users and roles"
            )


def host_cores():
    """The cores this process may run on (its CPU affinity, else the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def compress_threads_for(config):
    """Compression threads of a run: every core of the host, or fewer when compress_threads
    caps it (0: no cap)."""
    cores = host_cores()
    cap = config["compress_threads"]
    return min(cap, cores) if cap else cores


def extension_of(backup_format):
    """The file name extension of a backup of this format: tar.gz or archive.gz."""
    return "tar.gz" if backup_format == "tar.gz" else "archive.gz"


def valid_bucket_name(name):
    if not isinstance(name, str) or not 3 <= len(name) <= 63 or ".." in name:
        return False
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    return set(name) <= allowed and name[0].isalnum() and name[-1].isalnum()
