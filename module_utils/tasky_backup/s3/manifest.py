"""Each backup's signed manifest: <backup key>.json and its SSH signature <backup key>.json.sig.

The manifest says what the backup is (key, size and sha256 of the stored bytes, format, the age
recipients it is encrypted to, when it was taken, the host's public alias, the deployment),
what its dump held (databases, collections, document counts, index names, whether it carries an
oplog), and the sha256 of the previous backup's manifest, so the manifests chain. The host signs
it with its own key (`ssh-keygen -Y sign -n tasky-backup`); the control node publishes the
hosts' public keys as backups/allowed_signers, which hosts cannot write. verify, restore and
drill trust a backup only through its manifest: the object's own metadata is writable by anyone
holding a host's S3 keys, the manifest's signature is not.

Backups taken before manifests had an unsigned sidecar of format 1 at the same key: it still
gives the catalogue its facts, and is trusted only with allow_unsigned.
"""

import dataclasses
import hashlib
import json
import logging

from ..base.clock import parse_utc
from ..base.errors import BackupError
from ..base.signatures import UntrustedSignature, verify
from .retry import is_missing

LOG = logging.getLogger(__name__)

FORMAT = 2  # 1: the unsigned sidecar of earlier releases
SUFFIX = ".json"
SIGNATURE_SUFFIX = ".json.sig"
# A manifest or signature bigger than this is not one: refused unread (a planted 5 GB ".json"
# must not be read into the database host's memory).
MAX_BYTES = 4 << 20


def manifest_key(key):
    return key + SUFFIX


def signature_key(key):
    return key + SIGNATURE_SUFFIX


@dataclasses.dataclass(frozen=True)
class Manifest:
    key: str
    name: str
    created: str
    backup_format: str
    size: int
    sha256: str  # of the stored bytes (the ciphertext when encrypted)
    encrypted_to: list  # age recipients; empty: plaintext
    host: str  # the host's public alias, never its internal name
    deployment: str
    dump_bytes: int
    oplog: bool  # whether the backup carries an oplog to replay
    databases: dict
    tools: dict
    problems: list
    previous: dict = None  # {"key", "manifest_sha256"} of the backup before it, or None
    format: int = FORMAT

    def to_bytes(self):
        return (json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw, key):
        try:
            data = json.loads(raw)
        except ValueError:
            raise BackupError(f"the manifest of {key} is not JSON") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError(f"the manifest of {key} is not one this engine writes (format {FORMAT})")
        try:
            manifest = cls(**data)
        except TypeError as exc:
            raise BackupError(f"the manifest of {key} is not one this engine writes: {exc}") from None
        if not well_formed(dataclasses.asdict(manifest)):
            raise BackupError(f"the manifest of {key} is not one this engine writes (its databases)")
        return manifest

    def documents(self):
        """All documents the dump held (views count none)."""
        return sum(c.get("documents") or 0 for colls in self.databases.values() for c in colls.values())


def well_formed(record):
    """{"databases": {db: {collection: {...}}}, "tools": {...}, "problems": [...]}: a record edited
    by hand must not break the page or the drill."""
    if not isinstance(record, dict):
        return False
    databases = record.get("databases")
    return (
        isinstance(databases, dict)
        and all(isinstance(c, dict) and all(isinstance(v, dict) for v in c.values()) for c in databases.values())
        and isinstance(record.get("tools", {}), dict)
        and isinstance(record.get("problems", []), list)
    )


def fetch(client, bucket, key, limit=MAX_BYTES):
    """The body of key (at most limit bytes), or None when there is none."""
    from botocore.exceptions import ClientError

    try:
        obj = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    if obj.get("ContentLength", 0) > limit:
        obj["Body"].close()
        raise BackupError(f"{key} holds {obj['ContentLength']} bytes: not a manifest this engine writes")
    return obj["Body"].read(limit + 1)[:limit]


def verified(settings, client, key):
    """(Manifest, its bytes) of the backup at key, its signature checked against allowed_signers;
    (None, None) when it has no manifest and no signature at all. Raises BackupError naming what
    is wrong: only one of the two there, not a manifest this engine writes, one describing
    another backup, an unknown signer, another host's key, a bad signature."""
    raw = fetch(client, settings.bucket, manifest_key(key))
    signature = fetch(client, settings.bucket, signature_key(key))
    if signature is None and (raw is None or earlier_sidecar(raw)):
        return None, None  # a backup from before manifests (its sidecar said what it held)
    if raw is None or signature is None:
        what = f"a signature but no manifest ({manifest_key(key)} is gone)" if raw is None else "an unsigned manifest"
        raise BackupError(f"{key} has {what}: it cannot be trusted (treat it as tampered with)")
    manifest = Manifest.from_bytes(raw, key)
    if manifest.key != key:
        raise BackupError(f"the manifest at {manifest_key(key)} describes {manifest.key}, not {key}: refused")
    try:
        verify(settings.ssh_keygen_path, settings.allowed_signers, manifest.host, raw, signature)
    except UntrustedSignature as exc:
        raise BackupError(f"the manifest of {key} is refused: {exc}") from None
    return manifest, raw


def earlier_sidecar(raw):
    """Whether raw is the unsigned sidecar (format 1) an earlier release wrote at <key>.json."""
    try:
        record = json.loads(raw)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("format") == 1


def trusted_manifest(settings, client, key, allow_unsigned=False, stored_at=None):
    """The manifest of the backup at key, its signature checked against allowed_signers. With
    allow_unsigned, None for a backup of the public prefix that has neither manifest nor
    signature and was taken before the deployment began signing (settings.signed_since): by its
    name and by `stored_at`, the LastModified S3 gave the object read (which no writer chooses).
    The caller then trusts the object's own metadata, as earlier releases did."""
    manifest, _raw = verified(settings, client, key)
    if manifest is not None:
        LOG.info("the manifest of %s is signed by %s, as allowed_signers says", key, manifest.host)
        return manifest
    refusal = unsigned_refusal(settings, key, stored_at)
    if refusal or not allow_unsigned:
        hint = refusal or (
            f"allow_unsigned accepts a backup taken before {settings.signed_since}, from before signed manifests"
        )
        raise BackupError(f"{key} has no manifest: it cannot be trusted ({hint})")
    LOG.warning("%s has no signed manifest; trusted on its metadata alone (allow_unsigned)", key)
    return None


def unsigned_refusal(settings, key, stored_at=None):
    """Why a backup without manifest can never be trusted, or None: it may be one taken before
    manifests, named and stored before settings.signed_since, under the public prefix."""
    from .keys import BACKUP_NAME, created_of

    tampered = ": treat it as tampered with"
    if settings.users_prefix and key.startswith(settings.users_prefix):
        return "the users archive always has one" + tampered
    if not settings.signed_since:
        return "signed_since is not set, so nothing without one is accepted" + tampered
    name = key[len(settings.prefix) :] if key.startswith(settings.prefix) else ""
    if not BACKUP_NAME.match(name):
        return "only a timestamped backup from before signed manifests may lack one" + tampered
    since = parse_utc(settings.signed_since)
    if parse_utc(created_of(name)) >= since or (stored_at is not None and stored_at >= since):
        return f"it was taken or stored after signing began ({settings.signed_since})" + tampered
    return None


def read_record(settings, client, key):
    """What a backup's manifest (or an earlier release's sidecar) says its dump held, for the
    catalogue and the drill of an unsigned backup: a dict with the sha256 of the manifest's
    bytes added as "manifest_sha256", or None (none, or not one this engine wrote). Not a
    proof: see trusted_manifest."""
    try:
        raw = fetch(client, settings.bucket, manifest_key(key))
        record = json.loads(raw) if raw is not None else None
    except Exception as exc:  # noqa: BLE001 - a bad record costs its backup the facts, nothing more
        LOG.warning("the manifest of %s is unreadable: %s", key, exc)
        return None
    if record is None:
        return None
    if not well_formed(record):
        LOG.warning("the manifest of %s is not one this engine writes; its facts are left out", key)
        return None
    return {**record, "manifest_sha256": hashlib.sha256(raw).hexdigest()}


def chain_link(settings, client, listing=None, now=None):
    """{"key", "manifest_sha256"} of the newest backup under the prefix whose manifest checks out
    (what the next manifest chains to), or None. Names from the future (planted) and anything
    unreadable are passed over, never fatal: a backup must not fail because of what someone put
    beside it."""
    import datetime

    from .keys import BACKUP_NAME, created_of, kind_of

    now = now or datetime.datetime.now(datetime.timezone.utc)
    horizon = (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    keys = set(listing if listing is not None else list_keys(settings, client))
    backups = sorted(
        (k for k in keys if kind_of(settings.prefix, k) == "backup" and manifest_key(k) in keys), reverse=True
    )
    for key in backups[:20]:
        name = key[len(settings.prefix) :]
        if not BACKUP_NAME.match(name) or created_of(name) > horizon:
            continue
        try:
            manifest, raw = verified(settings, client, key)
        except Exception as exc:  # noqa: BLE001 - passed over, said
            LOG.warning("the chain passes over %s: %s", key, exc)
            continue
        if manifest is not None:
            return {"key": key, "manifest_sha256": hashlib.sha256(raw).hexdigest()}
    return None


def list_keys(settings, client):
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=settings.prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def shrink_refusal(baseline, manifest, percent):
    """Why a new backup must not replace latest: its dump found damaged, or its documents or dump
    bytes more than percent below the baseline's (the latest backup's trusted manifest); None."""
    if manifest.problems:
        return f"its dump is damaged ({'; '.join(manifest.problems[:3])})"
    if baseline is None:
        return None
    for what, was, now in (
        ("documents", baseline.documents(), manifest.documents()),
        ("dump bytes", baseline.dump_bytes or 0, manifest.dump_bytes or 0),
    ):
        if was and (was - now) * 100 > was * percent:
            drop = (was - now) * 100 / was
            return (
                f"its {what} dropped {drop:.0f}% against {baseline.key} ({was} -> {now}; "
                f"shrink_alarm_percent {percent})"
            )
    return None
