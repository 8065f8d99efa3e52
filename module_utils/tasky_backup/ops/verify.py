"""Verify a backup in S3: its signed manifest checked against allowed_signers, the backup
downloaded as a stream with the sha256 and size of its stored bytes checked against the
manifest, and read through in its format (the tar listing of a tar.gz, every namespace and
document of a mongodump archive), decrypted on the way when this host holds an age identity it
is encrypted to."""

import dataclasses
import os

from ..base.errors import BackupError, reported_as
from ..base.results import Result
from ..formats.age import AgeReader, read_identities
from ..formats.gzip import HashingReader
from ..formats.registry import for_key
from ..s3.client import s3_client
from ..s3.keys import backup_key_of, is_encrypted, resolve_key
from ..s3.manifest import trusted_manifest
from ..s3.meta import ObjectMeta


@dataclasses.dataclass
class VerifyResult(Result):
    key: str
    format: str
    valid: bool
    problems: list
    size: int
    sha256: str
    recorded_sha256: str
    members: int
    collections: list
    signed: bool = False  # its manifest's signature checked out
    encrypted: bool = False
    read_through: bool = True  # False: encrypted to no identity this host holds (bytes checked only)


@reported_as("verify")
def verify_backup(settings, request, client=None):
    client = client or s3_client(settings)
    key = resolve_key(settings, request.key)
    fmt = for_key(key)
    obj = client.get_object(Bucket=settings.bucket, Key=key)
    meta = ObjectMeta.from_s3(obj.get("Metadata"))
    problems, manifest = [], None
    try:
        manifest = trusted_manifest(
            settings, client, backup_key_of(settings, key, meta), request.allow_unsigned, obj.get("LastModified")
        )
    except BackupError as exc:
        problems.append(str(exc))
    recorded_sha256, recorded_size = (manifest.sha256, manifest.size) if manifest else (meta.sha256, meta.size)
    stored = HashingReader(obj["Body"])
    reading, identities, undecrypted = None, identities_for(settings, key), None
    if not is_encrypted(key) or identities:
        plain = AgeReader(stored, identities) if identities else stored
        try:
            reading = fmt.read_through(key, plain, public=key.startswith(settings.prefix))
        except BackupError as exc:
            undecrypted = exc if identities and plain.failed else None
            if undecrypted is None:
                problems.append(str(exc))
        finally:
            if identities:
                plain.close()
    stored.drain()
    sha256 = stored.sha256.hexdigest()
    if undecrypted is not None and sha256 != recorded_sha256:
        problems.append(str(undecrypted))  # not what was stored: the sha256 below says so too
    if recorded_sha256 and recorded_sha256 != sha256:
        problems.append(f"sha256 {sha256} differs from the recorded {recorded_sha256}")
    if recorded_size is not None and recorded_size != stored.size:
        problems.append(f"size {stored.size} differs from the recorded {recorded_size}")
    if not recorded_sha256:
        problems.append("no sha256 recorded in the object metadata")
    problems += reading.problems if reading else []
    return VerifyResult(
        key=key,
        format=fmt.name,
        valid=not problems,
        problems=problems,
        size=stored.size,
        sha256=sha256,
        recorded_sha256=recorded_sha256,
        members=reading.members if reading else 0,
        collections=reading.collections if reading else [],
        signed=manifest is not None,
        encrypted=is_encrypted(key),
        read_through=reading is not None,
    )


def identities_for(settings, key):
    """This host's age identities for an encrypted backup, or None (not encrypted, or no identity
    here: the bytes and the signature are still checked)."""
    if not is_encrypted(key) or not os.path.exists(settings.age_identity):
        return None
    return read_identities(settings.age_identity)
