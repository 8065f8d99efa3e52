"""Each backup's sidecar, <backup key>.json: what its dump held (databases, collections,
document counts, index names), the tool's version and the host (mongo/facts.py), with the
backup's key, checksum and size, so it is a whole record on its own.

S3 metadata holds 2 KB at most, too little for a dump's collections, and a catalogue rebuilt
from the listing alone must find them again: so one small JSON object per backup, tagged to
expire with it. It holds nothing secret (names and counts; no document, no credential)."""

import json
import logging

from .keys import created_of
from .objects import set_retention

LOG = logging.getLogger(__name__)

FORMAT = 1
SUFFIX = ".json"


def sidecar_key(key):
    return key + SUFFIX


def write_sidecar(settings, client, backup, facts):
    """The sidecar of the backup just taken (a BackupResult); expires with its backup."""
    record = {
        **facts,
        "format": FORMAT,
        "key": backup.key,
        "name": backup.name,
        "created": created_of(f"{backup.name}.tar.gz"),
        "sha256": backup.sha256,
        "size": backup.size,
        "dump_bytes": backup.dump_bytes,
    }
    key = sidecar_key(backup.key)
    answer = client.put_object(
        Bucket=settings.bucket,
        Key=key,
        Body=json.dumps(record, indent=1, sort_keys=True).encode(),
        ContentType="application/json",
    )
    set_retention(client, settings.bucket, key, answer.get("VersionId"), True, settings.s3_patience_s)
    LOG.info("wrote the dump facts of %s to s3://%s/%s", backup.key, settings.bucket, key)
    return key


def read_sidecar(settings, client, key):
    """The facts recorded with a backup, or None (no sidecar, or not one this engine wrote)."""
    try:
        body = client.get_object(Bucket=settings.bucket, Key=sidecar_key(key))["Body"].read()
        record = json.loads(body)
    except Exception as exc:  # noqa: BLE001 - a bad sidecar costs its backup the facts, nothing more
        LOG.warning("the sidecar of %s is unreadable: %s", key, exc)
        return None
    if not well_formed(record):
        LOG.warning("the sidecar of %s is not one this engine writes; its facts are left out", key)
        return None
    return record


def well_formed(record):
    """{"databases": {db: {collection: {...}}}, "tools": {...}, "problems": [...]} as write_sidecar
    writes them: a sidecar edited by hand must not break the page."""
    if not isinstance(record, dict):
        return False
    databases = record.get("databases")
    return (
        isinstance(databases, dict)
        and all(isinstance(c, dict) and all(isinstance(v, dict) for v in c.values()) for c in databases.values())
        and isinstance(record.get("tools", {}), dict)
        and isinstance(record.get("problems", []), list)
    )
