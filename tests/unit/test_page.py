"""ops/page.py: backups/index.html rendered from a catalogue dict (the shape ops/catalogue.py's
build_catalogue returns): every value escaped, no script or outside resource, the restore recipe
of each format, how old the newest backup is (a warning past max_age_hours), an empty bucket."""

import datetime
import html
import html.parser

import pytest
from tasky_backup.ops.page import age_in_words, human_size, recipe, render_html

HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>&amp;"


class Elements(html.parser.HTMLParser):
    """Every element and attribute of a page, and its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data):
        self.text.append(data)


def hostile_catalogue():
    generated = datetime.datetime(2026, 11, 25, 5, 30, tzinfo=datetime.timezone.utc)
    entry = {
        "key": "backups/mongodb-backup-20261125-020000.tar.gz",
        "name": "mongodb-backup-20261125-020000.tar.gz",
        "url": "https://example.invalid/backups/mongodb-backup-20261125-020000.tar.gz",
        "size": 1234,
        "sha256": "ab" * 32,
        "created": "2026-11-25T02:00:00Z",
        "last_modified": "2026-11-25T02:01:00Z",
        "host": HOSTILE,
        "deployment": HOSTILE,
        "dump_bytes": 99,
        "facts_recorded": True,
        "databases": {HOSTILE: {HOSTILE: {"documents": 3, "indexes": ["_id_", HOSTILE]}}},
        "tools": {"mongodump": HOSTILE},
        "problems": [HOSTILE],
    }
    alias = {
        "key": "backups/latest.tar.gz",
        "name": "latest.tar.gz",
        "url": "x",
        "size": 1234,
        "sha256": "ab" * 32,
        "last_modified": "2026-11-25T02:01:00Z",
        "copies": f"backups/{HOSTILE}",
        "copies_present": False,
    }
    return {
        "format": 1,
        "generated_at": generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bucket": "tasky-backups",
        "prefix": "backups/",
        "index_html": "x",
        "index_json": "x",
        "max_age_hours": 26,
        "newest": entry["key"],
        "backups": [entry],
        "aliases": [alias],
    }


def parsed(page):
    elements = Elements()
    elements.feed(page)
    return elements


def test_the_page_escapes_a_hostile_collection_name():
    page = render_html(hostile_catalogue())
    parsed = Elements()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert not [name for name, _value in parsed.attributes if name.startswith("on")]
    assert "<script>" not in page and "<img" not in page
    text = "".join(parsed.text)
    assert text.count(HOSTILE) >= 6  # shown as the text it is: db, collection, index, host, tool, problem
    # Self-contained: no external resource, and the page forbids loading any.
    assert "default-src 'none'" in page
    assert not [v for n, v in parsed.attributes if n == "src"]
    assert "3 hours 30 minutes old (as of 2026-11-25 05:30:00 UTC)" in text


def test_a_hostile_bucket_prefix_and_alias_are_escaped_too():
    catalogue = {**hostile_catalogue(), "bucket": HOSTILE, "prefix": HOSTILE}
    page = render_html(catalogue)
    assert "<script>" not in page and "<img" not in page
    assert html.escape(HOSTILE, quote=True) in page
    alias_copy = f'{html.escape(HOSTILE, quote=True)} <span class="muted">(expired)</span>'
    assert alias_copy in render_html(hostile_catalogue())  # the alias's backup is gone


def catalogue_of(name, created="2026-11-25T02:00:00Z", generated="2026-11-25T05:30:00Z", backup_format="tar.gz"):
    catalogue = hostile_catalogue()
    entry = catalogue["backups"][0]
    entry.update(name=name, key=f"backups/{name}", url=f"https://b.example/backups/{name}", format=backup_format)
    entry.update(created=created, host="db-1", databases={"tasky": {"todos": {"documents": 3, "indexes": ["_id_"]}}})
    entry.update(tools={"mongodump": "mongodump version: 100.11.0"}, problems=[])
    catalogue.update(generated_at=generated, aliases=[])
    return catalogue


def recipe_of(page):
    start = page.index('<pre id="recipe">') + len('<pre id="recipe">')
    return html.unescape(page[start : page.index("</pre>", start)])


def test_the_recipe_of_a_tar_gz_backup():
    name = "mongodb-backup-20261125-020000.tar.gz"
    lines = recipe_of(render_html(catalogue_of(name))).splitlines()
    assert lines[0] == f"# {name}, taken 2026-11-25 02:00:00 UTC by db-1"
    assert lines[1] == f"curl -fO https://b.example/backups/{name}"
    assert lines[2] == f"echo '{'ab' * 32}  {name}' | sha256sum -c -"
    assert lines[3] == f"tar -xzf {name}"
    assert lines[-1].startswith("mongorestore --host 127.0.0.1 --port 27017 -u admin")
    assert lines[-1].endswith(" mongodb-backup-20261125-020000/")
    # Never admin, config or local; validators bypassed (a --drop into a stricter one loses nothing).
    assert "--bypassDocumentValidation --nsExclude='admin.*' --nsExclude='config.*' --nsExclude='local.*'" in lines[-1]


def test_the_recipe_of_a_signed_encrypted_backup_verifies_then_decrypts_with_stock_tools():
    name = "mongodb-backup-20261125-020000.tar.gz.age"
    catalogue = catalogue_of(name)
    catalogue["backups"][0].update(signature="good", encrypted=True)
    catalogue["allowed_signers"] = "https://b.example/backups/allowed_signers"
    lines = recipe_of(render_html(catalogue)).splitlines()
    url = f"https://b.example/backups/{name}"
    assert (
        lines[1]
        == f"curl -f -O {url} -O {url}.json -O {url}.json.sig -o allowed_signers {catalogue['allowed_signers']}"
    )
    assert (
        lines[3] == f"ssh-keygen -Y verify -f allowed_signers -I db-1 -n tasky-backup -s {name}.json.sig < {name}.json"
    )
    assert lines[4] == f'echo "$(jq -r .sha256 {name}.json)  {name}" | sha256sum -c -'  # the signed sha256
    assert lines[5].startswith(f"age -d -i key.txt {name} | tar -xz")
    assert lines[-1].endswith(" mongodb-backup-20261125-020000/")
    archive = "mongodb-backup-20261125-020000.archive.gz.age"
    catalogue = catalogue_of(archive, backup_format="archive")
    catalogue["backups"][0].update(signature="good", encrypted=True)
    text = recipe_of(render_html(catalogue))
    assert f"age -d -i key.txt -o mongodb-backup-20261125-020000.archive.gz {archive}" in text
    assert text.splitlines()[-1].endswith(" --archive=mongodb-backup-20261125-020000.archive.gz --gzip")


def test_a_page_of_plaintext_on_a_public_prefix_says_so():
    catalogue = catalogue_of("mongodb-backup-20261125-020000.tar.gz")
    assert 'id="plaintext"' not in render_html(catalogue)
    catalogue["public_plaintext"] = True
    assert '<p class="status warn" id="plaintext">These backups are published UNENCRYPTED' in render_html(catalogue)


def test_the_recipe_of_an_archive_backup_unpacks_nothing():
    name = "mongodb-backup-20261125-020000.archive.gz"
    text = recipe_of(render_html(catalogue_of(name, backup_format="archive")))
    assert "tar -xzf" not in text
    assert text.splitlines()[-1].endswith(f" --archive={name} --gzip")
    catalogue = catalogue_of(name, backup_format="archive")
    assert recipe(catalogue, catalogue["backups"][0]) == text


def test_a_backup_older_than_max_age_hours_is_a_warning():
    name = "mongodb-backup-20261125-020000.tar.gz"
    fresh = parsed(render_html(catalogue_of(name, generated="2026-11-26T04:00:00Z")))  # 26 h: not older
    assert "older than" not in "".join(fresh.text) and ("class", "status ok") in fresh.attributes
    stale = render_html(catalogue_of(name, generated="2026-11-26T04:00:01Z"))
    assert "The newest backup is 26 hours old" in stale
    assert "older than the 26 h expected between backups" in stale
    assert ("class", "status warn") in parsed(stale).attributes


def test_an_empty_bucket_says_so():
    catalogue = {**hostile_catalogue(), "backups": [], "aliases": [], "newest": None}
    page = render_html(catalogue)
    assert "No backup in this bucket yet (as of 2026-11-25 05:30:00 UTC)." in page
    assert 'id="recipe"' not in page and "<h2>Backups (0)</h2>" in page and "<h2>Aliases (0)</h2>" in page


def test_the_tables_list_each_backup_and_alias():
    page = render_html(hostile_catalogue())
    assert "<h2>Backups (1)</h2>" in page and "<h2>Aliases (1)</h2>" in page
    assert '<a href="mongodb-backup-20261125-020000.tar.gz">' in page and '<a href="latest.tar.gz">' in page
    assert '<a href="index.json">' in page
    assert "1.2 KiB" in page and 'title="1234 bytes"' in page


@pytest.mark.parametrize(
    ("size", "words"),
    [
        (None, ""),
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.0 KiB"),
        (5 << 20, "5.0 MiB"),
        (3 << 40, "3072.0 GiB"),
    ],
)
def test_human_size(size, words):
    assert human_size(size) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (5, "less than a minute"),
        (60, "1 minute"),
        (59 * 60 + 59, "59 minutes"),
        (3600, "1 hour"),
        (3 * 3600 + 12 * 60, "3 hours 12 minutes"),
        (47 * 3600, "47 hours"),
        (2 * 86400, "2 days"),
        (9 * 86400 + 5 * 3600 + 59, "9 days 5 hours"),
    ],
)
def test_age_in_words(seconds, words):
    assert age_in_words(seconds) == words


@pytest.mark.parametrize(
    ("seconds", "words"), [(-30, "less than a minute"), (3660, "1 hour 1 minute"), (90000, "25 hours")]
)
def test_age_in_words_edges(seconds, words):
    assert age_in_words(seconds) == words


def test_the_chain_of_manifests_names_a_gap_and_the_page_shows_trust():
    from tasky_backup.ops.catalogue import chain_gaps

    keys = [f"backups/mongodb-backup-2026112{n}-020000.tar.gz.age" for n in (7, 6, 5)]
    entries = [{"key": key, "manifest_sha256": f"sha-{key[-25:]}"} for key in keys]
    records = {
        keys[0]: {"previous": {"key": keys[1], "manifest_sha256": entries[1]["manifest_sha256"]}},
        keys[1]: {"previous": {"key": "backups/mongodb-backup-20261124-020000.tar.gz.age", "manifest_sha256": "x"}},
        keys[2]: {"previous": None},
    }
    chain_gaps(entries, records)
    assert "chain_gap" not in entries[0]
    assert entries[1]["chain_gap"].startswith("chain gap: its manifest follows backups/mongodb-backup-20261124")
    records[keys[0]]["previous"]["manifest_sha256"] = "another"
    chain_gaps(entries, records)
    assert entries[0]["chain_gap"] == f"chain gap: the manifest of {keys[1]} is not the one it follows"
    catalogue = catalogue_of("mongodb-backup-20261125-020000.tar.gz")
    catalogue["backups"][0].update(signature="refused: unknown signer", encrypted=False, chain_gap="chain gap: x")
    cell = render_html(catalogue)
    assert (
        "refused: unknown signer" in cell and '<span class="warn">plaintext</span>' in cell and "chain gap: x" in cell
    )
