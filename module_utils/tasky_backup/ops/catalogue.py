"""The team's catalogue of backups: backups/index.json and backups/index.html, next to the backups
and public like them, rebuilt from the bucket's listing after each backup and on demand
(`backup.sh`'s catalogue action, the module's state=catalogue). Each backup's sidecar
(s3/sidecar.py) says what its dump held.

Rebuilt from the listing, the catalogue shows what is there: a backup the lifecycle removed drops
out, an alias whose backup expired says so. Its two objects carry a short Cache-Control and are
never tagged to expire. Writing it after a backup is best-effort: a failure is logged, returned
as catalogue_error and counted in the CatalogueFailures metric, and the backup stays a success.
"""

import dataclasses
import json
import logging

from ..base.clock import TIME_FORMAT, utc_now
from ..base.errors import reported_as
from ..base.results import Result
from ..s3.client import s3_client
from ..s3.keys import public_url
from ..s3.listing import in_parallel, scan
from ..s3.sidecar import read_sidecar, sidecar_key, write_sidecar
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


def build_catalogue(settings, client, now):
    """The catalogue as a dict (what index.json holds), from one listing of the bucket."""
    backups, aliases, keys = scan(settings, client)
    with_sidecar = [b for b in backups if sidecar_key(b["key"]) in keys]
    read = in_parallel(lambda b: read_sidecar(settings, client, b["key"]), with_sidecar)
    records = {b["key"]: record for b, record in zip(with_sidecar, read)}
    entries = []
    for backup in backups:
        record = records.get(backup["key"]) or {}
        entry = {k: backup[k] for k in ("key", "name", "format", "url", "size", "sha256", "created", "last_modified")}
        entry.update(
            host=record.get("host") or backup["host"],
            deployment=backup["deployment"],
            dump_bytes=record.get("dump_bytes", backup["dump_bytes"]),
            facts_recorded=bool(record),
            databases=record.get("databases") if record else None,
            tools=record.get("tools") if record else None,
            problems=record.get("problems", []),
        )
        entries.append(entry)
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
    """After a successful backup (a BackupResult): its sidecar (what the dump held), then the
    catalogue. Never raises: the backup is done and good whatever happens here. Sets
    result.catalogue (the page's URL), or result.catalogue_error, which the metrics count as
    CatalogueFailures."""
    errors = []
    try:
        client = client or s3_client(settings)
        if result.facts is not None:
            write_sidecar(settings, client, result, result.facts)
    except Exception as exc:  # noqa: BLE001 - best-effort by design
        errors.append(f"the sidecar of {result.key}: {type(exc).__name__}: {exc}")
    try:
        result.catalogue = write_catalogue(settings, client=client).url
    except Exception as exc:  # noqa: BLE001 - best-effort by design
        errors.append(str(exc))  # a BackupError: "catalogue failed: <what S3 said>"
    if errors:
        result.catalogue_error = "; ".join(errors)
        LOG.error("the catalogue was not updated (the backup itself is good): %s", result.catalogue_error)
    return result
