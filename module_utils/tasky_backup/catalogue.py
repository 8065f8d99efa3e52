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

import html
import json
from urllib.parse import quote

from .aws import s3_client
from .clock import TIME_FORMAT, parse_utc, utc_now
from .errors import reported_as
from .logs import LOG
from .store import created_of, in_parallel, public_url, scan, set_retention

FORMAT = 1
INDEX_JSON = "index.json"
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


# ---------------------------------------------------------------------------------------------
# index.html: one self-contained page. No script, no asset from elsewhere (its own Content
# Security Policy forbids loading any), inline CSS only, every value HTML-escaped.


def e(value):
    return html.escape(str(value), quote=True)


def age_in_words(seconds):
    seconds = max(0, int(seconds))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400

    def unit(n, word):
        return f"{n} {word}{'' if n == 1 else 's'}"

    if seconds < 60:
        return "less than a minute"
    if hours < 1:
        return unit(minutes, "minute")
    if days < 2:
        rest = minutes % 60
        return unit(hours, "hour") + (f" {unit(rest, 'minute')}" if rest else "")
    rest = hours % 24
    return unit(days, "day") + (f" {unit(rest, 'hour')}" if rest else "")


def human_size(size):
    if size is None:
        return ""
    for unit_name in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit_name == "GiB":
            return f"{size} bytes" if unit_name == "bytes" else f"{size:.1f} {unit_name}"
        size /= 1024
    return ""


def utc_text(stamp):
    """2026-11-25T02:00:00Z -> 2026-11-25 02:00:00 UTC."""
    return stamp.replace("T", " ").replace("Z", " UTC") if stamp else ""


def link(name):
    """A link relative to .../backups/index.html: the object's file name."""
    return e(quote(name))


def collections_cell(entry):
    if not entry["facts_recorded"]:
        return '<span class="muted">not recorded</span>'
    parts = []
    for db, collections in sorted((entry["databases"] or {}).items()):
        documents = sum(c.get("documents") or 0 for c in collections.values())
        items = []
        for name, coll in sorted(collections.items()):
            count = "view" if coll.get("type") == "view" else f"{coll.get('documents')} documents"
            indexes = ", ".join(e(i) for i in coll.get("indexes") or []) or "none"
            items.append(f"<li><code>{e(name)}</code>: {e(count)}; indexes: {indexes}</li>")
        summary = f"{e(db)}: {len(collections)} collections, {documents} documents"
        parts.append(f"<details><summary>{summary}</summary><ul>{''.join(items)}</ul></details>")
    for problem in entry.get("problems") or []:
        parts.append(f'<p class="warn">{e(problem)}</p>')
    return "".join(parts) or '<span class="muted">no database</span>'


def recipe(catalogue, newest):
    name = newest["name"]
    head = [
        f"# {name}, taken {utc_text(newest['created'])}",
        f"curl -fO {newest['url']}",
        f"echo '{newest['sha256']}  {name}' | sha256sum -c -",
    ]
    login = "mongorestore --host 127.0.0.1 --port 27017 -u admin --authenticationDatabase admin"
    note = [
        "# into the MongoDB server on this machine (change --host); asks for the password;",
        "# add --drop to replace collections that exist",
    ]
    if newest.get("format") == "archive":  # mongodump --archive, gzipped: no unpacking
        return "\n".join([*head, *note, f"{login} --archive={name} --gzip"])
    folder = name[: -len(".tar.gz")]
    return "\n".join([*head, f"tar -xzf {name}", *note, f"{login} {folder}/"])


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:80rem;
padding:0 1rem;color:#1b1f23;background:#fff;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}tr:nth-child(even) td{background:#fbfcfd}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
td.sha code{word-break:break-all}td.nowrap{white-space:nowrap}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:.75rem;overflow-x:auto;white-space:pre}
.ok{color:#1a7f37}.warn{color:#cf222e;font-weight:600}.muted{color:#6e7781}
details summary{cursor:pointer}ul{margin:.25rem 0;padding-left:1.25rem}
.status{font-size:1.05rem;padding:.6rem .8rem;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa}
"""


def render_html(catalogue):
    """The page, from the catalogue dict alone."""
    backups, aliases = catalogue["backups"], catalogue["aliases"]
    generated = parse_utc(catalogue["generated_at"])
    as_of = e(utc_text(catalogue["generated_at"]))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>MongoDB backups: {e(catalogue['bucket'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>MongoDB backups</h1>",
        f'<p class="muted">s3://{e(catalogue["bucket"])}/{e(catalogue["prefix"])} &middot; '
        f"page written {as_of} &middot; the same as JSON: "
        f'<a href="{link(INDEX_JSON)}">{e(INDEX_JSON)}</a></p>',
    ]
    if backups:
        newest = backups[0]
        age = (generated - parse_utc(newest["created"])).total_seconds()
        stale = age > catalogue["max_age_hours"] * 3600
        words = f"The newest backup is {age_in_words(age)} old (as of {utc_text(catalogue['generated_at'])})"
        if stale:
            words += f": older than the {catalogue['max_age_hours']} h expected between backups"
        out.append(f'<p class="status {"warn" if stale else "ok"}" id="age">{e(words)}.</p>')
        out += [
            "<h2>Restore the newest backup</h2>",
            f'<pre id="recipe">{e(recipe(catalogue, newest))}</pre>',
        ]
    else:
        out.append(f'<p class="status warn" id="age">No backup in this bucket yet (as of {as_of}).</p>')
    out += [
        f"<h2>Backups ({len(backups)})</h2>",
        '<table id="backups"><thead><tr><th>Date (UTC)</th><th>Download</th><th>Size</th>'
        "<th>sha256</th><th>Collections</th><th>Host</th></tr></thead><tbody>",
    ]
    for entry in backups:
        tools = ", ".join(f"{v}" for v in (entry.get("tools") or {}).values())
        out.append(
            "<tr>"
            f'<td class="nowrap">{e(utc_text(entry["created"]))}</td>'
            f'<td class="nowrap"><a href="{link(entry["name"])}">{e(entry["name"])}</a></td>'
            f'<td title="{e(entry["size"])} bytes">{e(human_size(entry["size"]))}</td>'
            f'<td class="sha"><code>{e(entry["sha256"])}</code></td>'
            f"<td>{collections_cell(entry)}</td>"
            f'<td>{e(entry["host"])}<br><span class="muted">{e(tools)}</span></td>'
            "</tr>"
        )
    out += ["</tbody></table>", f"<h2>Aliases ({len(aliases)})</h2>"]
    out.append(
        '<table id="aliases"><thead><tr><th>Alias</th><th>Copy of</th><th>sha256</th>'
        "<th>Written (UTC)</th></tr></thead><tbody>"
    )
    prefix = catalogue["prefix"]
    for alias in aliases:
        source = alias["copies"] or ""
        source_name = source[len(prefix) :] if source.startswith(prefix) else source
        if not source:
            copy_of = '<span class="muted">unknown</span>'
        elif alias["copies_present"]:
            copy_of = f'<a href="{link(source_name)}">{e(source_name)}</a>'
        else:
            copy_of = f'{e(source_name)} <span class="muted">(expired)</span>'
        out.append(
            "<tr>"
            f'<td class="nowrap"><a href="{link(alias["name"])}">{e(alias["name"])}</a></td>'
            f"<td>{copy_of}</td>"
            f'<td class="sha"><code>{e(alias["sha256"])}</code></td>'
            f"<td>{e(utc_text(alias['last_modified']))}</td>"
            "</tr>"
        )
    out += [
        "</tbody></table>",
        '<p class="muted">A .tar.gz backup is a tar.gz of mongodump\'s folders, one per database '
        "(<code>tar -xzf</code>, then <code>mongorestore</code> on the folder); an .archive.gz backup "
        "is <code>mongodump --archive</code>, gzipped (<code>mongorestore --archive=FILE --gzip</code>). "
        "Each one's sha256 is also in the object's metadata. Backups and daily copies expire with the "
        "bucket's lifecycle; latest.tar.gz (or latest.archive.gz) is the newest one.</p>",
        "</body></html>",
    ]
    return "\n".join(out) + "\n"
