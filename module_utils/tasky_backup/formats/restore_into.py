"""The step a restore and a restore drill share: make room, find the backup's signed manifest,
download the backup checked against it (decrypted on the way when it is age-encrypted), ready it
for mongorestore in its format, and restore it into the server (the live namespaces, or the
drill's scratch ones). Nothing in the bucket is trusted but what the manifest's signature
proves: not the object's metadata, not the names inside the archive."""

import dataclasses
import logging
import os
import time

from ..base.errors import BackupError
from ..base.settings import PRIVATE_DATABASES, public_host_name
from ..base.space import check_free_space
from ..base.state import read_state
from ..mongo.tools import run_mongorestore
from ..s3.keys import backup_key_of, is_encrypted, latest_key
from ..s3.manifest import trusted_manifest
from ..s3.meta import ObjectMeta
from ..s3.objects import head_of_backup
from .age import AgeReader, read_identities
from .gzip import HashingReader

LOG = logging.getLogger(__name__)

CHUNK = 1 << 20


@dataclasses.dataclass
class Fetched:
    """A backup downloaded and checked: what vouches for it, and what mongorestore reads."""

    key: str
    backup_key: str  # the timestamped backup the key is (or, for an alias, copies)
    manifest: object  # its trusted Manifest, or None (allow_unsigned, a backup from before manifests)
    meta: ObjectMeta  # the object's own metadata (trusted only without a manifest)
    restorable: object
    seconds: float

    @property
    def sha256(self):
        return self.manifest.sha256 if self.manifest else self.meta.sha256

    @property
    def oplog(self):
        """Replay an oplog only when the signed manifest says the backup has one (never for a
        backup trusted without one)."""
        return self.manifest is not None and self.manifest.oplog and self.restorable.has_oplog

    @property
    def deployment(self):
        return (self.manifest.deployment if self.manifest else self.meta.deployment), (
            self.manifest.host if self.manifest else self.meta.host
        )


def fetch(settings, client, key, fmt, scratch, allow_unsigned=False, accept=None, room=None):
    """The backup at key, trusted through its signed manifest (or, with allow_unsigned, its
    metadata when it has none and may be trusted so), then: room for it checked (room: (what, with
    the scratch databases too), the sizes the manifest says), the exact version HEADed
    downloaded into scratch (decrypted with this host's age identity when encrypted), no byte
    more than the manifest's size taken, its sha256 checked as the bytes pass, accepted
    (accept(fetched) raises to refuse it before any more work) and readied by its format (a
    tar.gz unpacked, an archive read through). Raises BackupError naming what is wrong."""
    began = time.monotonic()
    head = head_of_backup(client, settings.bucket, key)
    meta = ObjectMeta.from_s3(head.get("Metadata"))
    backup_key = backup_key_of(settings, key, meta)
    manifest = trusted_manifest(settings, client, backup_key, allow_unsigned, head.get("LastModified"))
    if manifest is not None and key == latest_key(settings):
        refuse_rolled_back(settings, key, manifest)
    expected_sha256, expected_size = (manifest.sha256, manifest.size) if manifest else (meta.sha256, meta.size)
    if not expected_sha256:
        raise BackupError(f"{key} has no sha256 in its metadata: it was not written by a finished backup")
    if room:
        what, scratch_databases = room
        dump_bytes = manifest.dump_bytes if manifest else meta.dump_bytes
        needed, on_disk = fmt.room(expected_size or head["ContentLength"], dump_bytes)
        check_free_space(settings, needed + ((dump_bytes or 0) if scratch_databases else 0), what.format(on_disk))
    identities = read_identities(settings.age_identity) if is_encrypted(key) else None
    path = os.path.join(scratch, f"download.{fmt.extension}")
    digest, size, undecrypted = download(client, settings.bucket, key, head, path, identities, expected_size, manifest)
    if digest != expected_sha256 or (expected_size is not None and size != expected_size):
        raise damaged(
            key,
            manifest,
            f"sha256 {digest} and size {size} differ from the recorded {expected_sha256} and {expected_size}",
        )
    if undecrypted is not None:  # the stored bytes are right: this host is not one of its recipients
        raise damaged(key, manifest, f"it does not decrypt with this host's age identity ({undecrypted})")
    LOG.info(
        "downloaded %s: %d bytes, sha256 matches %s", key, size, "its signed manifest" if manifest else "its metadata"
    )
    fetched = Fetched(key, backup_key, manifest, meta, None, 0.0)
    if accept:
        accept(fetched)
    fetched.restorable = fmt.restorable(path, key, scratch)
    fetched.seconds = time.monotonic() - began
    return fetched


def damaged(key, manifest, why):
    source = "its signed manifest" if manifest else "its metadata"
    return BackupError(f"{key} is damaged or not the backup it claims to be: {why} ({source}); nothing was restored")


def refuse_rolled_back(settings, key, manifest):
    """latest must not be older than this host's own last good backup (the state file, which no
    one but root here writes): someone holding a host's S3 keys can copy an older, genuine backup
    over latest, and every signature still checks out."""
    last = (read_state(settings).get("last_success") or {}).get("name")
    if last and last > manifest.name:
        raise BackupError(
            f"{key} copies {manifest.name}, older than this host's last good backup {last}: latest was rolled "
            f"back; restore {last} by its key (or {manifest.name} by its own key, if that is the one wanted)"
        )


def download(client, bucket, key, head, path, identities=None, expected_size=None, manifest=None):
    """Writes the version `head` describes of the object at key to path (its plaintext, when
    identities decrypt it); returns (sha256, size) of the stored bytes, hashed as they arrived,
    and the decryption's failure (None: none), after which the rest is still hashed, so the
    caller can tell altered bytes from a host that is not a recipient. An object of another
    size than expected is refused before a byte is written, and the download stops past it: a
    swapped object must not fill the work directory."""
    version = head.get("VersionId")
    if expected_size is not None and head["ContentLength"] != expected_size:  # not one GET of it
        raise damaged(key, manifest, f"its size {head['ContentLength']} differs from the recorded {expected_size}")
    obj = client.get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version and version != "null" else {}))
    if expected_size is not None and obj["ContentLength"] != expected_size:
        obj["Body"].close()
        raise damaged(key, manifest, f"its size {obj['ContentLength']} differs from the recorded {expected_size}")
    stored = HashingReader(obj["Body"], limit=expected_size)
    source = AgeReader(stored, identities) if identities else stored
    undecrypted = None
    try:
        with open(path, "wb") as out:
            for chunk in iter(lambda: source.read(CHUNK), b""):
                out.write(chunk)
    except BackupError as exc:
        if not identities:
            raise
        undecrypted = exc
    finally:
        if identities:
            source.close()
    if identities:
        stored.drain()  # what age left unread (all of it, after a failure) is still hashed
        obj["Body"].close()
    return stored.sha256.hexdigest(), stored.size, undecrypted


def check_deployment(settings, fetched, allowed):
    """A backup of another deployment is refused unless allowed (a restore onto the wrong
    replica set is a bad night)."""
    here = settings.deployment or public_host_name(settings)
    there, host = fetched.deployment
    if there and there != here and not allowed:
        raise BackupError(
            f"{fetched.key} is a backup of deployment '{there}' (host {host or '?'}), not of '{here}'; "
            "nothing was restored (allow_other_deployment restores it anyway)"
        )


# Never restored, whatever an archive holds: admin (users and roles), config, local. Only the
# private users archive (users_prefix), signed like every backup, brings admin back: it is what
# it is for.
PRIVATE_EXCLUDED = [f"--nsExclude={db}.*" for db in PRIVATE_DATABASES]
USERS_EXCLUDED = [f"--nsExclude={db}.*" for db in PRIVATE_DATABASES if db != "admin"]


def excluded(settings, key):
    users = bool(settings.users_prefix) and key.startswith(settings.users_prefix)
    return USERS_EXCLUDED if users else PRIVATE_EXCLUDED


def restore_into(settings, fetched, login=(None, None), drop=False, extra=(), oplog_replay=None):
    """mongorestore of a fetched backup as login (user, --config file): never the private
    databases, validators bypassed (a --drop restore into a stricter validator must not lose
    documents), the oplog replayed only when the manifest says so (oplog_replay=False: never).
    Returns the documents restored."""
    args = [*excluded(settings, fetched.key), "--bypassDocumentValidation", *extra]
    replay = fetched.oplog if oplog_replay is None else oplog_replay
    return run_mongorestore(settings, fetched.restorable.source_args, login, drop, replay, args)
