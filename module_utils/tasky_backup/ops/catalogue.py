"""The team's catalogue of backups: backups/index.json and backups/index.html, next to the backups
and public like them, rebuilt from the bucket's listing after each backup and on demand
(`backup.sh --catalogue`, the module's state=catalogue). Each backup's signed manifest
(s3/manifest.py) says what its dump held; the page says whether its signature checks out
against allowed_signers, whether it is encrypted, and where the manifests' chain has a gap.

Rebuilt from the listing, the catalogue shows what is there: a backup the lifecycle removed drops
out, an alias whose backup expired says so. Its two objects carry a short Cache-Control and are
never tagged to expire. Writing it after a backup is best-effort: a failure is logged, returned
as catalogue_error and counted in the CatalogueFailures metric, and the backup stays a success.
"""

import dataclasses
import hashlib
import json
import logging

from ..base.clock import TIME_FORMAT, utc_now
from ..base.errors import reported_as
from ..base.results import Result
from ..s3.client import s3_client
from ..s3.keys import public_url
from ..s3.listing import in_parallel, scan
from ..s3.manifest import manifest_key, read_record, verified
from .page import INDEX_JSON, render_html

LOG = logging.getLogger(__name__)

FORMAT = 1
INDEX_HTML = "index.html"
CACHE_CONTROL = "max-age=60"


@dataclasses.dataclass
class CatalogueResult(Result):
    url: str
    index_json: str
    keys: list
    counts: dict
    newest: str
    generated_at: str


def record_of(settings, client, key, keys):
    """(what the backup's manifest says, as a dict, or None; "good" when its signature checks
    out, "none" without a manifest, else why it is refused): the facts shown are those of the
    very bytes whose signature was checked. A backup from before manifests shows its unsigned
    sidecar's facts."""
    if manifest_key(key) not in keys:
        return None, "none"
    try:
        manifest, raw = verified(settings, client, key)
    except Exception as exc:  # noqa: BLE001 - shown on the page, never raised
        return None, f"refused: {exc}"
    if manifest is None:
        return read_record(settings, client, key), "none"
    return {**dataclasses.asdict(manifest), "manifest_sha256": hashlib.sha256(raw).hexdigest()}, "good"


def chain_gaps(entries, records):
    """Each backup whose manifest chains to another backup than the one listed before it (newest
    first), or to a manifest that is not the one there now: a backup removed or planted between."""
    for entry, older in zip(entries, entries[1:]):
        previous = (records.get(entry["key"]) or {}).get("previous")
        if not previous:
            continue
        if previous.get("key") != older["key"]:
            entry["chain_gap"] = (
                f"chain gap: its manifest follows {previous.get('key')}, listed before it is {older['key']}"
            )
        elif previous.get("manifest_sha256") != older.get("manifest_sha256"):
            entry["chain_gap"] = f"chain gap: the manifest of {older['key']} is not the one it follows"


def build_catalogue(settings, client, now):
    """The catalogue as a dict (what index.json holds), from one listing of the bucket."""
    backups, aliases, keys = scan(settings, client)
    found = in_parallel(lambda b: record_of(settings, client, b["key"], keys), backups)
    records = {b["key"]: record for b, (record, _signature) in zip(backups, found)}
    entries = []
    for backup, (record, signature) in zip(backups, found):
        record = record or {}
        entry = {k: backup[k] for k in ("key", "name", "format", "url", "size", "sha256", "created", "last_modified")}
        entry.update(
            # Signed, the host's public alias; else what earlier releases recorded may be an
            # internal name: not shown.
            host=record.get("host") if signature == "good" else "",
            deployment=backup["deployment"],
            dump_bytes=record.get("dump_bytes", backup["dump_bytes"]),
            facts_recorded=bool(record),
            databases=record.get("databases") if record else None,
            tools=record.get("tools") if record else None,
            problems=record.get("problems", []),
            encrypted=backup["encrypted"],
            encrypted_to=record.get("encrypted_to") or [],
            signature=signature,
            manifest_sha256=record.get("manifest_sha256"),
        )
        if signature == "good":  # what the manifest proves, over the object's own metadata
            entry.update(sha256=record["sha256"], size=record["size"])
        entries.append(entry)
    chain_gaps(entries, records)
    listed = {b["key"] for b in backups}
    alias_entries = [
        {
            **{k: alias[k] for k in ("key", "name", "url", "size", "sha256", "last_modified", "copies")},
            "copies_present": alias["copies"] in listed,
        }
        for alias in aliases
    ]
    prefix = settings.prefix
    return {
        "format": FORMAT,
        "generated_at": now.strftime(TIME_FORMAT),
        "bucket": settings.bucket,
        "prefix": prefix,
        "index_html": public_url(settings, prefix + INDEX_HTML),
        "index_json": public_url(settings, prefix + INDEX_JSON),
        "max_age_hours": settings.max_age_hours,
        "allowed_signers": public_url(settings, prefix + "allowed_signers"),
        "public_plaintext": settings.public_plaintext and not settings.age_recipients,
        "newest": entries[0]["key"] if entries else None,
        "backups": entries,
        "aliases": alias_entries,
    }


@reported_as("catalogue")
def write_catalogue(settings, _request=None, client=None, now=None):
    """Rebuilds backups/index.json and backups/index.html from the bucket's listing; returns
    where they are and what they list."""
    client = client or s3_client(settings)
    catalogue = build_catalogue(settings, client, now or utc_now())
    prefix, bucket = settings.prefix, settings.bucket
    for name, body, content_type in (
        (INDEX_JSON, json.dumps(catalogue, indent=1, sort_keys=True), "application/json"),
        (INDEX_HTML, render_html(catalogue), "text/html; charset=utf-8"),
    ):
        # A new version of a key never tagged: the catalogue never expires by the lifecycle.
        client.put_object(
            Bucket=bucket, Key=prefix + name, Body=body.encode(), ContentType=content_type, CacheControl=CACHE_CONTROL
        )
    LOG.info(
        "catalogue written: %s (%d backups, %d aliases)",
        catalogue["index_html"],
        len(catalogue["backups"]),
        len(catalogue["aliases"]),
    )
    return CatalogueResult(
        url=catalogue["index_html"],
        index_json=catalogue["index_json"],
        keys=[prefix + INDEX_JSON, prefix + INDEX_HTML],
        counts={"backups": len(catalogue["backups"]), "aliases": len(catalogue["aliases"])},
        newest=catalogue["newest"],
        generated_at=catalogue["generated_at"],
    )


def catalogue_after_backup(settings, result, client=None):
    """After a successful backup (a BackupResult; its manifest is written with it): the
    catalogue. Never raises: the backup is done and good whatever happens here. Sets
    result.catalogue (the page's URL), or result.catalogue_error, which the metrics count as
    CatalogueFailures."""
    errors = []
    try:
        result.catalogue = write_catalogue(settings, client=client or s3_client(settings)).url
    except Exception as exc:  # noqa: BLE001 - best-effort by design
        errors.append(str(exc))  # a BackupError: "catalogue failed: <what S3 said>"
    if errors:
        result.catalogue_error = "; ".join(errors)
        LOG.error("the catalogue was not updated (the backup itself is good): %s", result.catalogue_error)
    return result
