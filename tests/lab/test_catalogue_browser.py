"""The catalogue page in a real browser: Debian's chromium, headless, opens backups/index.html
from the lab's RGW as an anonymous visitor (the bucket made public-read by the backup_bucket
role), the test reads the table the browser rendered, follows the newest backup's download
link, downloads it anonymously and checks its sha256 against the catalogue. A screenshot is
kept under .lab/artifacts/ (its path is printed: pytest -s, or the captured output). The two
backups are real: the engine's take_backup with the real mongodump (tests/catalogue_lab.py)."""

import hashlib
import shutil
import socket
import subprocess
from urllib.parse import urljoin

import pytest
import requests
from catalogue_lab import HOSTILE, Elements, add_todos, ago, lab_config, real_backup
from conftest import ENDPOINT, ROOT, TEST_HOST_ALIAS, run_playbook, task_results

# A collection of the real backup named to break the page. Without HOSTILE's double quote: the lab's
# FerretDB fails to create a collection whose name has one (its SQLite back end: "SQL logic error:
# unrecognized token"); the page's escaping of it is checked by test_catalogue's rendering test.
HOSTILE_COLLECTION = HOSTILE.replace('"', "")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# docs/lab.md: as root, with nothing that reaches for hosts this machine cannot reach.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--hide-scrollbars",
]
ARTIFACTS = ROOT / ".lab" / "artifacts"


def chromium(tmp_path, *args):
    """One headless chromium run with a new empty profile; returns its stdout."""
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed; `make deps` (lab/deps.sh) installs Debian's package")
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class Tables(Elements):
    """The rows of the page's tables (cell text, and the links in each cell) and the recipe."""

    def __init__(self):
        super().__init__()
        self.tables, self.table, self.row, self.cell, self.pre = {}, None, None, None, None
        self.recipe = ""

    def handle_starttag(self, tag, attrs):
        super().handle_starttag(tag, attrs)
        attrs = dict(attrs)
        if tag == "table":
            self.table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = {"text": "", "links": []}
        elif tag == "a" and self.cell is not None:
            self.cell["links"].append(attrs.get("href"))
        elif tag == "pre":
            self.pre = attrs.get("id")

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.cell["text"] = " ".join(self.cell["text"].split())
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row:
            self.table.append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None
        elif tag == "pre":
            self.pre = None

    def handle_data(self, data):
        super().handle_data(data)
        if self.cell is not None:
            self.cell["text"] += data
        if self.pre == "recipe":
            self.recipe += data


@pytest.fixture
def public_bucket(backup_bucket):
    """The test's bucket (conftest's, the one engine_config backs up to) as the backup_bucket role
    leaves it with public read (the lab's setting)."""
    rc, out = run_playbook("--limit", "localhost", extra_vars={"backup_bucket_name": backup_bucket})
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    return backup_bucket


def test_the_team_opens_the_page_and_downloads_the_newest_backup(s3, public_bucket, engine_config, app_db, tmp_path):
    config = lab_config(engine_config, app_db)
    add_todos(app_db, 40)
    older = real_backup(config, ago(days=1, hours=2), s3)
    add_todos(app_db, 1)
    app_db[HOSTILE_COLLECTION].insert_one({"_id": 1})
    newest = real_backup(config, ago(hours=2, minutes=5), s3)
    assert "catalogue_error" not in newest
    url = f"{ENDPOINT}/{public_bucket}/backups/index.html"
    assert newest["catalogue"] == url
    # Anonymous, as the team: the page and the JSON are public like the backups.
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    index = requests.get(urljoin(url, "index.json"), timeout=10).json()

    dom = chromium(tmp_path, "--dump-dom", url)
    rendered = Tables()
    rendered.feed(dom)
    rows = rendered.tables["backups"]
    assert [row[1]["text"] for row in rows] == [f"{newest['name']}.tar.gz", f"{older['name']}.tar.gz"]
    date, download, size, sha256, trust, collections, host = rows[0]
    assert date["text"] == index["backups"][0]["created"].replace("T", " ").replace("Z", " UTC")
    assert sha256["text"] == index["backups"][0]["sha256"] == newest["sha256"]
    assert size["text"].endswith(("bytes", "KiB")) and TEST_HOST_ALIAS in host["text"]
    assert socket.gethostname() not in host["text"]  # the public page names the host by its alias only
    assert "signed" in trust["text"] and "plaintext" in trust["text"]  # this test's backups are not encrypted
    assert f"{app_db.name}: 2 collections, 42 documents" in collections["text"]
    assert "todos: 41 documents; indexes: _id_, n_1" in collections["text"]
    # The hostile collection name is text in the browser's DOM, never an element.
    assert HOSTILE_COLLECTION in collections["text"]
    assert "script" not in rendered.tags and "img" not in rendered.tags
    aliases = {row[0]["text"]: row[1]["text"] for row in rendered.tables["aliases"]}
    assert aliases["latest.tar.gz"] == f"{newest['name']}.tar.gz"
    assert "The newest backup is 2 hours 5 minutes old (as of " in " ".join(rendered.text)
    name = f"{newest['name']}.tar.gz"
    assert f'echo "$(jq -r .sha256 {name}.json)  {name}" | sha256sum -c -' in rendered.recipe
    url_of_newest = f"{ENDPOINT}/{public_bucket}/{newest['key']}"
    assert f"curl -f -O {url_of_newest} -O {url_of_newest}.json -O {url_of_newest}.json.sig" in rendered.recipe
    assert f"ssh-keygen -Y verify -f allowed_signers -I {TEST_HOST_ALIAS} -n tasky-backup" in rendered.recipe

    # Follow the newest backup's link as the browser would resolve it, and download anonymously.
    (href,) = download["links"]
    archive = requests.get(urljoin(url, href), timeout=30)
    assert archive.status_code == 200
    assert hashlib.sha256(archive.content).hexdigest() == sha256["text"]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"catalogue-{public_bucket}.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1400", url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"screenshot of the catalogue page: {shot}")
