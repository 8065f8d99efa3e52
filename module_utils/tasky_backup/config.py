"""The engine's settings: every option, its default, and the checks made before any work."""

import json
import os

from .errors import BackupError

DEFAULT_CONFIG = "/etc/mongodb-backup/backup.json"

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
