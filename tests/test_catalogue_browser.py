"""The catalogue page in a real browser: Debian's chromium, headless, opens backups/index.html
from the lab's RGW as an anonymous visitor (the bucket made public-read by the backup_bucket
role), the test reads the table the browser rendered, follows the newest backup's download
link, downloads it anonymously and checks its sha256 against the catalogue. A screenshot is
kept under .lab/artifacts/ (its path is printed: pytest -s, or the captured output)."""

import hashlib
import shutil
import subprocess
from urllib.parse import urljoin

import pytest
import requests
from catalogue_lab import ago, fake_backup, lab_config
from conftest import ENDPOINT, ROOT, run_playbook, task_results
from test_catalogue import HOSTILE, Elements

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# LAB.md: as root, with nothing that reaches for hosts this machine cannot reach.
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
def public_bucket(bucket_name):
    """A bucket as the backup_bucket role leaves it with public read (the lab's setting)."""
    rc, out = run_playbook("--limit", "localhost", extra_vars={"backup_bucket_name": bucket_name})
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    return bucket_name


def test_the_team_opens_the_page_and_downloads_the_newest_backup(s3, public_bucket, tmp_path):
    config = lab_config(tmp_path, public_bucket)
    older = fake_backup(config, s3, tmp_path, ago(days=1, hours=2), {"go-mongodb": {"todos": (40, ["n_1"])}})
    newest = fake_backup(
        config, s3, tmp_path, ago(hours=2, minutes=5), {"go-mongodb": {"todos": (41, ["n_1"]), HOSTILE: (1, [])}}
    )
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
    date, download, size, sha256, collections, host = rows[0]
    assert date["text"] == index["backups"][0]["created"].replace("T", " ").replace("Z", " UTC")
    assert sha256["text"] == index["backups"][0]["sha256"] == newest["sha256"]
    assert size["text"].endswith(("bytes", "KiB")) and "db-test-1" in host["text"]
    assert "go-mongodb: 2 collections, 42 documents" in collections["text"]
    assert "todos: 41 documents; indexes: _id_, n_1" in collections["text"]
    # The hostile collection name is text in the browser's DOM, never an element.
    assert HOSTILE in collections["text"]
    assert "script" not in rendered.tags and "img" not in rendered.tags
    aliases = {row[0]["text"]: row[1]["text"] for row in rendered.tables["aliases"]}
    assert aliases["latest.tar.gz"] == f"{newest['name']}.tar.gz"
    assert "The newest backup is 2 hours 5 minutes old (as of " in " ".join(rendered.text)
    assert f"echo '{newest['sha256']}  {newest['name']}.tar.gz' | sha256sum -c -" in rendered.recipe
    assert f"curl -fO {ENDPOINT}/{public_bucket}/{newest['key']}" in rendered.recipe

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
