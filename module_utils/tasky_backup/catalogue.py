"""The team's catalogue of backups: backups/index.json and backups/index.html, next to the backups
and public like them, rebuilt from the bucket's listing after each backup and on demand
(`python3 -m tasky_backup catalogue`, the module's state=catalogue).

Each backup also gets a sidecar, <backup key>.json: what its dump held (databases, collections,
document counts, index names), the tool's version and the host (facts.py). S3 metadata holds
2 KB at most, too little for a dump's collections, and a catalogue rebuilt from the listing alone
must find them again: so one small JSON object per backup, tagged to expire with it. It holds
nothing secret (names and counts; no document, no credential).

Rebuilt from the listing, the catalogue shows what is there: a backup the lifecycle removed drops
out, an alias whose backup expired says so. Its two objects carry a short Cache-Control and are
never tagged to expire. Writing it after a backup is best-effort: a failure is logged, returned
as catalogue_error and counted in the CatalogueFailures metric, and the backup stays a success.
"""

import json

from .aws import s3_client
from .clock import TIME_FORMAT, utc_now
from .errors import reported_as
from .logs import LOG
from .page import INDEX_JSON, render_html
from .store import created_of, in_parallel, public_url, scan, set_retention

FORMAT = 1
INDEX_HTML = "index.html"
CACHE_CONTROL = "max-age=60"
SIDECAR_SUFFIX = ".json"


def sidecar_key(key):
    return key + SIDECAR_SUFFIX


def write_sidecar(config, client, result, facts):
    """The sidecar of the backup just taken: its facts, with its key, checksum and size, so it
    is a whole record on its own. Expires with its backup."""
    record = {
        **facts,
        "format": FORMAT,
        "key": result["key"],
        "name": result["name"],
        "created": created_of(f"{result['name']}.tar.gz"),
        "sha256": result["sha256"],
        "size": result["size"],
        "dump_bytes": result.get("dump_bytes"),
    }
    key = sidecar_key(result["key"])
    answer = client.put_object(
        Bucket=config["bucket"],
        Key=key,
        Body=json.dumps(record, indent=1, sort_keys=True).encode(),
        ContentType="application/json",
    )
    set_retention(client, config["bucket"], key, answer.get("VersionId"), True, config["s3_patience_s"])
    LOG.info("wrote the dump facts of %s to s3://%s/%s", result["key"], config["bucket"], key)
    return key


def read_sidecar(config, client, key):
    """The facts recorded with a backup, or None (no sidecar, or not one this engine wrote)."""
    try:
        body = client.get_object(Bucket=config["bucket"], Key=sidecar_key(key))["Body"].read()
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


def build_catalogue(config, client, now):
    """The catalogue as a dict (what index.json holds), from one listing of the bucket."""
    backups, aliases, keys = scan(config, client)
    with_sidecar = [b for b in backups if sidecar_key(b["key"]) in keys]
    read = in_parallel(lambda b: read_sidecar(config, client, b["key"]), with_sidecar)
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
    prefix = config["prefix"]
    return {
        "format": FORMAT,
        "generated_at": now.strftime(TIME_FORMAT),
        "bucket": config["bucket"],
        "prefix": prefix,
        "index_html": public_url(config, prefix + INDEX_HTML),
        "index_json": public_url(config, prefix + INDEX_JSON),
        "max_age_hours": config["max_age_hours"],
        "newest": entries[0]["key"] if entries else None,
        "backups": entries,
        "aliases": alias_entries,
    }


@reported_as("catalogue")
def write_catalogue(config, client=None, now=None):
    """Rebuilds backups/index.json and backups/index.html from the bucket's listing; returns
    where they are and what they list."""
    client = client or s3_client(config)
    catalogue = build_catalogue(config, client, now or utc_now())
    prefix, bucket = config["prefix"], config["bucket"]
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
    return {
        "url": catalogue["index_html"],
        "index_json": catalogue["index_json"],
        "keys": [prefix + INDEX_JSON, prefix + INDEX_HTML],
        "counts": {"backups": len(catalogue["backups"]), "aliases": len(catalogue["aliases"])},
        "newest": catalogue["newest"],
        "generated_at": catalogue["generated_at"],
    }


def catalogue_after_backup(config, result, client=None):
    """The job's hook after a successful backup: the backup's sidecar (result's dump_facts),
    then the catalogue. Never raises: the backup is done and good whatever happens here. Sets
    result["catalogue"] (the page's URL), or result["catalogue_error"], which the job's metrics
    count as CatalogueFailures."""
    facts = result.pop("dump_facts", None)
    errors = []
    try:
        client = client or s3_client(config)
        if facts is not None:
            write_sidecar(config, client, result, facts)
    except Exception as exc:  # noqa: BLE001 - best-effort by design
        errors.append(f"the sidecar of {result.get('key')}: {type(exc).__name__}: {exc}")
    try:
        result["catalogue"] = write_catalogue(config, client)["url"]
    except Exception as exc:  # noqa: BLE001 - best-effort by design
        errors.append(str(exc))  # a BackupError: "catalogue failed: <what S3 said>"
    if errors:
        result["catalogue_error"] = "; ".join(errors)
        LOG.error("the catalogue was not updated (the backup itself is good): %s", result["catalogue_error"])
    return result
