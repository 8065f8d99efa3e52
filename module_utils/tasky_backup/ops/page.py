"""backups/index.html: the team's page, one self-contained object. No script, no asset from
elsewhere (its own Content Security Policy forbids loading any), inline CSS only, every value
HTML-escaped; it shows what the catalogue (ops/catalogue.py) holds."""

import html
from urllib.parse import quote

from ..base.clock import parse_utc

INDEX_JSON = "index.json"  # the same catalogue for scripts, linked from the page
SIGNERS = "allowed_signers"  # the hosts' public keys, published by the control node


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


# Every printed restore: never the private databases, validators bypassed (a --drop restore
# into a stricter validator must not lose documents).
RESTORE = (
    "mongorestore --host 127.0.0.1 --port 27017 -u admin --authenticationDatabase admin "
    "--bypassDocumentValidation --nsExclude='admin.*' --nsExclude='config.*' --nsExclude='local.*'"
)


def recipe(catalogue, newest):
    """How to fetch, check, decrypt and restore the newest backup with stock tools only."""
    name, url = newest["name"], newest["url"]
    lines = [f"# {name}, taken {utc_text(newest['created'])} by {newest.get('host') or '?'}"]
    if newest.get("signature") == "good":
        signers = catalogue.get("allowed_signers") or "allowed_signers"
        lines += [
            f"curl -f -O {url} -O {url}.json -O {url}.json.sig -o allowed_signers {signers}",
            "# the manifest is signed by the host (OpenSSH); it names the backup's sha256",
            f"ssh-keygen -Y verify -f allowed_signers -I {newest['host']} -n tasky-backup "
            f"-s {name}.json.sig < {name}.json",
        ]
    else:
        lines.append(f"curl -fO {url}")
    if newest.get("signature") == "good":  # the sha256 the signed manifest names, not this page's
        lines.append(f'echo "$(jq -r .sha256 {name}.json)  {name}" | sha256sum -c -')
    else:
        lines.append(f"echo '{newest['sha256']}  {name}' | sha256sum -c -")
    note = [
        "# into the MongoDB server on this machine (change --host); asks for the password;",
        "# add --drop to replace collections that exist",
    ]
    encrypted = newest.get("encrypted")
    plain = name[: -len(".age")] if encrypted else name
    if newest.get("format") == "archive":  # mongodump --archive, gzipped: no unpacking
        if encrypted:
            lines.append(f"age -d -i key.txt -o {plain} {name}   # your age identity (the team's key)")
        return "\n".join([*lines, *note, f"{RESTORE} --archive={plain} --gzip"])
    folder = plain[: -len(".tar.gz")]
    unpack = (
        f"age -d -i key.txt {name} | tar -xz   # your age identity (the team's key)"
        if encrypted
        else f"tar -xzf {name}"
    )
    return "\n".join([*lines, unpack, *note, f"{RESTORE} {folder}/"])


def trust_cell(entry):
    """Whether the backup's manifest is signed by an allowed host, whether it is encrypted, and
    whether it chains to the backup listed before it."""
    signature = entry.get("signature") or "none"
    parts = [
        '<span class="ok">signed</span>'
        if signature == "good"
        else f'<span class="warn">{e("unsigned" if signature == "none" else signature)}</span>'
    ]
    parts.append("age-encrypted" if entry.get("encrypted") else '<span class="warn">plaintext</span>')
    if entry.get("chain_gap"):
        parts.append(f'<span class="warn">{e(entry["chain_gap"])}</span>')
    return "<br>".join(parts)


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
    return (
        "\n".join(
            [*head(catalogue), *newest_part(catalogue), *backups_table(catalogue), *aliases_table(catalogue), FOOT]
        )
        + "\n"
    )


def head(catalogue):
    as_of = e(utc_text(catalogue["generated_at"]))
    return [
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
        f'<a href="{link(INDEX_JSON)}">{e(INDEX_JSON)}</a> &middot; the hosts\' signing keys: '
        f'<a href="{link(SIGNERS)}">{e(SIGNERS)}</a></p>',
        *(
            [
                '<p class="status warn" id="plaintext">These backups are published UNENCRYPTED (public_plaintext): '
                "anyone who knows this bucket can read the database.</p>"
            ]
            if catalogue.get("public_plaintext")
            else []
        ),
    ]


def newest_part(catalogue):
    """How old the newest backup is (a warning past max_age_hours), and how to restore it."""
    backups = catalogue["backups"]
    if not backups:
        as_of = e(utc_text(catalogue["generated_at"]))
        return [f'<p class="status warn" id="age">No backup in this bucket yet (as of {as_of}).</p>']
    newest = backups[0]
    age = (parse_utc(catalogue["generated_at"]) - parse_utc(newest["created"])).total_seconds()
    stale = age > catalogue["max_age_hours"] * 3600
    words = f"The newest backup is {age_in_words(age)} old (as of {utc_text(catalogue['generated_at'])})"
    if stale:
        words += f": older than the {catalogue['max_age_hours']} h expected between backups"
    return [
        f'<p class="status {"warn" if stale else "ok"}" id="age">{e(words)}.</p>',
        "<h2>Restore the newest backup</h2>",
        f'<pre id="recipe">{e(recipe(catalogue, newest))}</pre>',
    ]


def backups_table(catalogue):
    backups = catalogue["backups"]
    out = [
        f"<h2>Backups ({len(backups)})</h2>",
        '<table id="backups"><thead><tr><th>Date (UTC)</th><th>Download</th><th>Size</th>'
        "<th>sha256</th><th>Trust</th><th>Collections</th><th>Host</th></tr></thead><tbody>",
    ]
    for entry in backups:
        tools = ", ".join(f"{v}" for v in (entry.get("tools") or {}).values())
        out.append(
            "<tr>"
            f'<td class="nowrap">{e(utc_text(entry["created"]))}</td>'
            f'<td class="nowrap"><a href="{link(entry["name"])}">{e(entry["name"])}</a></td>'
            f'<td title="{e(entry["size"])} bytes">{e(human_size(entry["size"]))}</td>'
            f'<td class="sha"><code>{e(entry["sha256"])}</code></td>'
            f"<td>{trust_cell(entry)}</td>"
            f"<td>{collections_cell(entry)}</td>"
            f'<td>{e(entry["host"])}<br><span class="muted">{e(tools)}</span></td>'
            "</tr>"
        )
    return [*out, "</tbody></table>"]


def aliases_table(catalogue):
    aliases, prefix = catalogue["aliases"], catalogue["prefix"]
    out = [
        f"<h2>Aliases ({len(aliases)})</h2>",
        '<table id="aliases"><thead><tr><th>Alias</th><th>Copy of</th><th>sha256</th>'
        "<th>Written (UTC)</th></tr></thead><tbody>",
    ]
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
    return [*out, "</tbody></table>"]


FOOT = (
    '<p class="muted">A .tar.gz backup is a tar.gz of mongodump\'s folders, one per database '
    "(<code>tar -xzf</code>, then <code>mongorestore</code> on the folder); an .archive.gz backup "
    "is <code>mongodump --archive</code>, gzipped (<code>mongorestore --archive=FILE --gzip</code>). "
    "A name ending in .age is age-encrypted to the team's keys (<code>age -d -i key.txt</code>). Each "
    "backup's manifest (<code>NAME.json</code>) names its sha256 and what it holds, and is signed by the "
    "host that took it (<code>NAME.json.sig</code>, checked with <code>ssh-keygen -Y verify</code> against "
    "<code>allowed_signers</code>). Backups and daily copies expire with the bucket's lifecycle; latest is "
    "the newest one.</p>\n"
    "</body></html>"
)
