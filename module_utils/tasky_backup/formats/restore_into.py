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
from ..mongo.tools import run_mongorestore
from ..s3.keys import backup_key_of, is_encrypted
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
        """Replay an oplog only when the signed manifest says the backup has one."""
        if self.manifest is not None:
            return self.manifest.oplog and self.restorable.has_oplog
        return self.restorable.has_oplog

    @property
    def deployment(self):
        return (self.manifest.deployment if self.manifest else self.meta.deployment), (
            self.manifest.host if self.manifest else self.meta.host
        )


def check_room(settings, client, key, fmt, what, scratch_databases=False):
    """Refuses a restore that would leave the work directory's file system short (the nightly
    check's min_free_percent): what the format needs on disk, and with scratch_databases the
    dump's size again (the drill's copy of the data, when the work directory is on the
    database's volume). `what` names it in the refusal ("{}": what is on disk)."""
    head = head_of_backup(client, settings.bucket, key)
    meta = ObjectMeta.from_s3(head.get("Metadata"))
    needed, on_disk = fmt.room(head["ContentLength"], meta.dump_bytes)
    if scratch_databases:
        needed += meta.dump_bytes or 0
    check_free_space(settings, needed, what.format(on_disk))


def fetch(settings, client, key, fmt, scratch, allow_unsigned=False, accept=None):
    """The backup at key, trusted through its signed manifest (or, with allow_unsigned, its
    metadata when it has none), downloaded into scratch with the sha256 of its stored bytes
    checked as they pass (decrypted with this host's age identity when encrypted), accepted
    (accept(fetched) raises to refuse it before any more work) and readied by its format (a
    tar.gz unpacked, an archive read through). Raises BackupError naming what is wrong."""
    began = time.monotonic()
    head = head_of_backup(client, settings.bucket, key)
    meta = ObjectMeta.from_s3(head.get("Metadata"))
    backup_key = backup_key_of(settings, key, meta)
    manifest = trusted_manifest(settings, client, backup_key, allow_unsigned)
    expected_sha256, expected_size = (manifest.sha256, manifest.size) if manifest else (meta.sha256, meta.size)
    if not expected_sha256:
        raise BackupError(f"{key} has no sha256 in its metadata: it was not written by a finished backup")
    identities = read_identities(settings.age_identity) if is_encrypted(key) else None
    path = os.path.join(scratch, f"download.{fmt.extension}")
    digest, size, failure = download(client, settings.bucket, key, path, identities)
    if digest != expected_sha256 or (expected_size is not None and size != expected_size):
        source = "its signed manifest" if manifest else "its metadata"
        raise BackupError(
            f"{key} is damaged or not the backup it claims to be: sha256 {digest} and size {size} differ from "
            f"the recorded {expected_sha256} and {expected_size} ({source}); nothing was restored"
        )
    if failure is not None:
        raise failure
    LOG.info(
        "downloaded %s: %d bytes, sha256 matches %s", key, size, "its signed manifest" if manifest else "its metadata"
    )
    fetched = Fetched(key, backup_key, manifest, meta, None, 0.0)
    if accept:
        accept(fetched)
    fetched.restorable = fmt.restorable(path, key, scratch)
    fetched.seconds = time.monotonic() - began
    return fetched


def download(client, bucket, key, path, identities=None):
    """Writes the object at key to path (its plaintext, when identities decrypt it); returns
    (sha256, size) of the stored bytes, hashed as they arrived. Bytes that will not decrypt are
    hashed to their end all the same: (sha256, size, the decryption's failure) then, so that a
    backup that is not the one its manifest names is called that, not a key problem."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    stored = HashingReader(body)
    source = AgeReader(stored, identities) if identities else stored
    failure = None
    try:
        with open(path, "wb") as out:
            for chunk in iter(lambda: source.read(CHUNK), b""):
                out.write(chunk)
    except BackupError as exc:
        if not identities:
            raise
        failure = exc
    finally:
        if identities:
            source.close()
    stored.drain()  # what age left unread (nothing, in a whole stream) is still hashed
    return stored.sha256.hexdigest(), stored.size, failure


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


# Never restored, whatever an archive holds: admin (users and roles), config, local.
PRIVATE_EXCLUDED = [f"--nsExclude={db}.*" for db in PRIVATE_DATABASES]


def restore_into(settings, fetched, login=(None, None), drop=False, extra=(), oplog_replay=None):
    """mongorestore of a fetched backup as login (user, --config file): never the private
    databases, validators bypassed (a --drop restore into a stricter validator must not lose
    documents), the oplog replayed only when the manifest says so (oplog_replay=False: never).
    Returns the documents restored."""
    args = [*PRIVATE_EXCLUDED, "--bypassDocumentValidation", *extra]
    replay = fetched.oplog if oplog_replay is None else oplog_replay
    return run_mongorestore(settings, fetched.restorable.source_args, login, drop, replay, args)
