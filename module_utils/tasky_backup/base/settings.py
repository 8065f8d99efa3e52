"""The engine's settings: one table of every option, its default and its check, and the frozen
Settings built from it. Everything is checked before any work; a refusal names the option."""

import dataclasses
import hashlib
import json
import os
import re
import socket

from .errors import BackupError

DEFAULT_CONFIG = "/etc/mongodb-backup/backup.json"

# Never in the public archive: admin holds every user's SCRAM credentials (system.users),
# config and local are the server's own.
PRIVATE_DATABASES = ("admin", "config", "local")

# What a backup is (formats/ has one file each): "tar.gz" (mongodump's folders, packed: the
# seed's format, `tar -xzf`) or "archive" (`mongodump --archive` streamed, gzipped: no local
# dump at all; `mongorestore --archive --gzip`).
FORMAT_NAMES = ("tar.gz", "archive")

REQUIRED = object()
FOLDER = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/$")
ALIAS = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# -- the checks of single values: each returns an error text, or None -------------------------
def integer(low, high):
    def check(value):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            return f"must be an integer from {low} to {high}, got {value!r}"
        return None

    return check


def one_of(*choices):
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}, got {value!r}"


def boolean(value):
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


def text(value):
    return None if isinstance(value, str) else f"must be a string, got {value!r}"


def bucket_name(value):
    return None if valid_bucket_name(value) else f"'{value}' is not a valid S3 bucket name"


def key_prefix(value):
    if not isinstance(value, str) or not value.endswith("/") or value.startswith("/"):
        return f"'{value}' must look like 'backups/'"
    return None


def cron_fields(value):
    if not isinstance(value, str) or (value and len(value.split()) != 5):
        return f"must be five cron fields, got {value!r}"
    return None


def database_names(value):
    """A list of MongoDB database names, none of them admin, config or local."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(name, str) for name in value):
        return f"must be a list of database names, got {value!r}"
    for name in value:
        if not name or len(name) > 63 or set(name) & set('/\\. "$*<>:|?'):
            return f"holds '{name}', which is not a valid MongoDB database name"
        if name in PRIVATE_DATABASES:
            return (
                f"holds '{name}': '{name}' is never published (admin holds every user's credentials); use "
                "users_prefix for users and roles"
            )
    return None


IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def text_list(value):
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item.strip() for item in value):
        return f"must be a list of strings, got {value!r}"
    return None


def alias(value):
    if not isinstance(value, str) or (value and not ALIAS.match(value)):
        return f"must be 1 to 64 of A-Z a-z 0-9 . _ - (a public name for the host), got {value!r}"
    return None


def account_id(value):
    if not isinstance(value, str) or (value and not ACCOUNT_ID.match(value)):
        return f"must be empty or a 12-digit AWS account id, got {value!r}"
    return None


def utc_time(value):
    """Empty, or a UTC time in the engine's format (2026-12-03T02:00:00Z)."""
    if not isinstance(value, str) or (value and not UTC_TIME.match(value)):
        return f"must be a UTC time like 2026-12-03T02:00:00Z, got {value!r}"
    return None


UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ACCOUNT_ID = re.compile(r"^\d{12}$")


def valid_bucket_name(name):
    """S3's general purpose bucket naming rules: 3-63 of a-z 0-9 . -, a letter or digit at each
    end, no two dots or a dot beside a dash, not an IP address, none of S3's reserved prefixes
    and suffixes."""
    if not isinstance(name, str) or not 3 <= len(name) <= 63:
        return False
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    if not set(name) <= allowed or not (name[0].isalnum() and name[-1].isalnum()):
        return False
    if any(pair in name for pair in ("..", ".-", "-.")) or IP_ADDRESS.match(name):
        return False
    return not name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) and not name.endswith(
        ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
    )


@dataclasses.dataclass(frozen=True)
class Setting:
    default: object
    check: object = None  # a function of the value: an error text, or None


# Every setting the engine knows: its default (REQUIRED: none) and its check.
SETTINGS = {
    "bucket": Setting(REQUIRED, bucket_name),
    "prefix": Setting("backups/", key_prefix),
    "region": Setting("us-east-1"),
    "endpoint_url": Setting(""),
    # The AWS account that owns the bucket: every S3 request says so (ExpectedBucketOwner), and
    # S3 refuses it should a bucket of that name belong to another account. Empty: not sent.
    "expected_bucket_owner": Setting("", account_id),
    "access_key": Setting(""),
    "secret_key": Setting(""),
    # Or, for S3 servers without instance roles: an AWS shared-credentials file (its [default]
    # keys), root-only, so that this configuration holds no secret.
    "credentials_file": Setting(""),
    "public_base_url": Setting(""),
    "mongodb_host": Setting("127.0.0.1"),
    "mongodb_port": Setting(27017, integer(1, 65535)),
    "mongodb_user": Setting("backup"),
    "mongodb_auth_db": Setting("admin"),
    "mongodump_config": Setting("/etc/mongodb-backup/mongodump.yaml"),
    "mongodump_path": Setting("mongodump"),
    "mongorestore_path": Setting("mongorestore"),
    "oplog": Setting(False, boolean),
    # Databases in the public archive; empty: every database but admin, config and local.
    "databases": Setting([], database_names),
    # A private prefix for a separate archive of users and roles (admin); empty: none is made.
    "users_prefix": Setting(""),
    # Recorded with each backup; a restore refuses a backup of another deployment unless told.
    "deployment": Setting(""),
    "parallel_collections": Setting(4, integer(1, 64)),
    "work_dir": Setting("/var/lib/mongodb-backup"),
    # In its own root-only directory, not in the world-writable /run/lock.
    "lock_file": Setting("/run/mongodb-backup/backup.lock"),
    "log_file": Setting("/var/log/mongodb-backup.log"),
    "state_file": Setting("/var/lib/mongodb-backup/state.json"),
    "retries": Setting(5, integer(1, 20)),
    # How long a run waits out an S3 outage (parts in memory are retried) before it fails.
    "s3_patience_s": Setting(300, integer(0, 3600)),
    # Time limit of each mongodump and mongorestore.
    "dump_timeout_s": Setting(6 * 3600, integer(10, 7 * 24 * 3600)),
    # A dump must leave at least this share of the work directory's file system free.
    "min_free_percent": Setting(10, integer(0, 90)),
    "format": Setting("tar.gz", one_of(*FORMAT_NAMES)),
    "part_size_mib": Setting(8, integer(5, 512)),
    "upload_threads": Setting(2, integer(1, 16)),
    "compress_level": Setting(6, integer(1, 9)),
    # Compression threads: 0 is every core of the host; a number caps it.
    "compress_threads": Setting(0, integer(0, 1024)),
    # A progress line goes to the log at most this often (and to the terminal every 5 s when
    # run by hand).
    "progress_log_s": Setting(30, integer(1, 3600)),
    "schedule": Setting("0 2 * * *"),
    "max_age_hours": Setting(26, integer(1, 24 * 366)),
    "cloudwatch_namespace": Setting(""),
    "cloudwatch_endpoint_url": Setting(""),
    # The restore drill (ops/drill.py): the user it restores as (allowed to write; empty: no
    # drill) and the root-only mongorestore --config file with its password; how old the last
    # good drill may be before status-check.sh says so; its cron schedule, shown by status.
    "drill_user": Setting("", text),
    "drill_config": Setting("/etc/mongodb-backup/mongorestore-drill.yaml", text),
    "drill_max_age_days": Setting(7, integer(1, 366)),
    "drill_schedule": Setting("", cron_fields),
    # The engine's own Python environment on the host (pymongo, boto3, pinned); the module
    # imports them from there. Empty: the running Python has them.
    "venv": Setting(""),
    # Trust. What is stored is encrypted to these age public keys (the team's, and the host's
    # own drill identity); none: plaintext. A public prefix (public) serves it to anyone, so
    # plaintext there is refused unless public_plaintext says it is on purpose.
    "age_recipients": Setting([], text_list),
    "public": Setting(False, boolean),
    "public_plaintext": Setting(False, boolean),
    # The host's age identity (root-only), for drills and restores of encrypted backups.
    "age_identity": Setting("/etc/mongodb-backup/age-identity.txt", text),
    # Each backup's manifest is signed with this host's SSH key; manifests are checked against
    # allowed_signers (what the control node publishes), as signed by host_alias.
    "signing_key": Setting("/etc/mongodb-backup/signing-key", text),
    "allowed_signers": Setting("/etc/mongodb-backup/allowed_signers", text),
    "ssh_keygen_path": Setting("ssh-keygen", text),
    # When this deployment began signing its backups (UTC, the engine's time format; the role
    # records it once per host): a backup without manifest named or stored later is tampering,
    # never allow_unsigned's. Empty: allow_unsigned accepts nothing.
    "signed_since": Setting("", utc_time),
    # The host's public name in metadata, manifests and the catalogue (never its internal name);
    # empty: "host-" and 8 hex digits of the sha256 of its host name.
    "host_alias": Setting("", alias),
    # The replica set this host is a member of (empty: a standalone server): its members share
    # latest, while a run refuses a latest written by any other host.
    "replica_set": Setting("", text),
    # Object Lock: each backup and its daily and latest copies, once verified, are locked for
    # this many days (0: not locked) in this mode; the bucket must have Object Lock on.
    "object_lock_days": Setting(0, integer(0, 36500)),
    "object_lock_mode": Setting("GOVERNANCE", one_of("GOVERNANCE", "COMPLIANCE")),
    # A backup whose documents or dump bytes drop more than this share against the latest one is
    # kept but not made latest (the run fails) unless accepted (accept_shrink).
    "shrink_alarm_percent": Setting(50, integer(1, 100)),
}


def check_together(values):
    """The checks that involve two settings: an error text, or None."""
    if values["drill_user"] and not os.path.isabs(values["drill_config"]):
        return (
            "drill_config must be the absolute path of the drill user's mongorestore --config file, "
            f"got {values['drill_config']!r}"
        )
    if values["public"] and not values["age_recipients"] and not values["public_plaintext"]:
        return (
            "age_recipients is empty and the prefix is public: every backup would be readable by anyone; set "
            "age_recipients (the team's age public keys), or public_plaintext to publish plaintext on purpose"
        )
    users_prefix, prefix = values["users_prefix"], values["prefix"]
    if users_prefix and (not FOLDER.match(users_prefix) or users_prefix.startswith(prefix)):
        return (
            f"users_prefix '{users_prefix}' must look like 'private/users/' and lie outside the public prefix "
            f"'{prefix}'"
        )
    return None


def public_host_name(settings):
    """The host's name in what the team sees (object metadata, manifests, the catalogue):
    host_alias, else a stable name that does not reveal the internal one."""
    if settings.host_alias:
        return settings.host_alias
    return "host-" + hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def encrypted(settings):
    """Whether this host's backups are age-encrypted (to settings.age_recipients)."""
    return bool(settings.age_recipients)


def _replace(self, **changes):
    """A copy with some settings changed, checked again."""
    return check_settings({**dataclasses.asdict(self), **changes}, source="settings")


Settings = dataclasses.make_dataclass(
    "Settings",
    list(SETTINGS),
    frozen=True,
    namespace={"__doc__": "The engine's settings, checked (see SETTINGS).", "replace": _replace},
)


def check_settings(data, source="config"):
    """Settings from a dict of options: unknown, missing and bad values are refused, naming them."""
    unknown = sorted(set(data) - set(SETTINGS))
    if unknown:
        raise BackupError(f"{source}: unknown option(s): {', '.join(unknown)}")
    values = {name: data.get(name, setting.default) for name, setting in SETTINGS.items()}
    missing = [
        k for k, v in values.items() if v is None or v is REQUIRED or (SETTINGS[k].default is REQUIRED and v == "")
    ]
    if missing:
        raise BackupError(f"{source}: missing required option(s): {', '.join(missing)}")
    for name, setting in SETTINGS.items():
        problem = setting.check(values[name]) if setting.check else None
        if problem:
            raise BackupError(f"{source}: {name} {problem}")
    problem = check_together(values)
    if problem:
        raise BackupError(f"{source}: {problem}")
    values["databases"] = tuple(values["databases"])
    values["age_recipients"] = tuple(values["age_recipients"])
    return Settings(**values)


def load_settings(path=DEFAULT_CONFIG, overrides=None):
    """Reads the JSON configuration, applies overrides and checks every value before any work."""
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
    return check_settings(data, source=path)
