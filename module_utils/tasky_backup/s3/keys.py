"""The names of things in the bucket: a backup's key and its aliases, which format a key holds,
what kind of object a key is, public URLs, and the key an operator's words mean."""

import dataclasses
import datetime
import re

from ..base.clock import TIME_FORMAT

# Each format's file extension (formats/ has the rest of each format); an age-encrypted backup
# adds AGE to it.
EXTENSIONS = {"tar.gz": "tar.gz", "archive": "archive.gz"}
AGE = ".age"

# Both formats: .tar.gz (mongodump's folders) and .archive.gz (mongodump --archive, gzipped),
# each plain or age-encrypted (.age).
BACKUP_NAME = re.compile(r"^mongodb-backup-(\d{8}-\d{6})\.(tar|archive)\.gz(\.age)?$")
ALIAS_NAME = re.compile(r"^(?:latest|daily-\d{4}-\d{2}-\d{2})\.(tar|archive)\.gz(\.age)?$")


@dataclasses.dataclass(frozen=True)
class BackupNames:
    """One run's backup, named for the time it started: the backup itself and its two aliases."""

    prefix: str
    name: str  # mongodb-backup-YYYYMMDD-HHMMSS, the folder the archive unpacks to
    extension: str
    day: str  # YYYY-MM-DD

    @property
    def key(self):
        return f"{self.prefix}{self.name}.{self.extension}"

    @property
    def daily_key(self):
        return f"{self.prefix}daily-{self.day}.{self.extension}"

    @property
    def latest_key(self):
        return f"{self.prefix}latest.{self.extension}"

    def users_key(self, users_prefix):
        """The private archive of users and roles taken with this backup."""
        return f"{users_prefix}{self.name}-users.{self.extension}"


def extension_for(backup_format, encrypted=False):
    return EXTENSIONS[backup_format] + (AGE if encrypted else "")


def names_for(prefix, now, backup_format, encrypted=False):
    stamp, day = now.strftime("%Y%m%d-%H%M%S"), now.strftime("%Y-%m-%d")
    return BackupNames(prefix, f"mongodb-backup-{stamp}", extension_for(backup_format, encrypted), day)


def format_of(key):
    """'archive' for a .archive.gz(.age) key, else 'tar.gz' (the seed's format)."""
    return "archive" if key.removesuffix(AGE).endswith(".archive.gz") else "tar.gz"


def is_encrypted(key):
    return key.endswith(AGE)


def latest_keys(settings):
    """Every latest a bucket may hold under the prefix: each format, plain and encrypted."""
    return [f"{settings.prefix}latest.{extension_for(f, e)}" for f in EXTENSIONS for e in (False, True)]


def kind_of(prefix, key):
    """'backup' (mongodb-backup-YYYYMMDD-HHMMSS.tar.gz), 'alias' (latest, daily-YYYY-MM-DD) or
    None (the catalogue, sidecars, anything else under the prefix)."""
    name = key[len(prefix) :] if key.startswith(prefix) else ""
    if BACKUP_NAME.match(name):
        try:
            created_of(name)
        except ValueError:  # mongodb-backup-20251399-...: not a time, not a backup
            return None
        return "backup"
    if ALIAS_NAME.match(name):
        return "alias"
    return None


def created_of(name):
    """The UTC time in a backup's name (when its run started), in the engine's time format."""
    stamp = BACKUP_NAME.match(name).group(1)
    return datetime.datetime.strptime(stamp, "%Y%m%d-%H%M%S").strftime(TIME_FORMAT)


def public_url(settings, key):
    base = settings.public_base_url
    if not base:
        if settings.endpoint_url:
            base = f"{settings.endpoint_url.rstrip('/')}/{settings.bucket}"
        else:
            base = f"https://{settings.bucket}.s3.{settings.region}.amazonaws.com"
    return f"{base.rstrip('/')}/{key}"


def latest_key(settings):
    """latest.tar.gz, or latest.archive.gz in the archive format; .age added when encrypted."""
    return f"{settings.prefix}latest.{extension_for(settings.format, bool(settings.age_recipients))}"


def resolve_key(settings, key):
    """latest, a name under the public prefix, or a whole key under it or under the private
    users_prefix (the users archive), as given."""
    if not key or key == "latest":
        return latest_key(settings)
    private = settings.users_prefix
    if key.startswith(settings.prefix) or (private and key.startswith(private)):
        return key
    return f"{settings.prefix}{key}"


def backup_key_of(settings, key, meta):
    """The timestamped backup an alias (latest, daily-*) copies, from its metadata (ObjectMeta);
    a backup's own key otherwise. Its sidecar holds the record of what it held."""
    if not meta.name or kind_of(settings.prefix, key) != "alias":
        return key
    return f"{settings.prefix}{meta.name}.{extension_for(format_of(key), is_encrypted(key))}"
