"""The cloudwatch_agent role's Debian/Ubuntu download: pinned version, published URL layout, and
the signature check the role runs on the host before installing.

AWS's real .deb, .sig and key cannot be downloaded here (no internet). So the role's own
fetch-deb.yml (download + gpg --verify, without the apt install) runs on localhost against
file:// URLs: a stand-in .deb signed with a throwaway key made for the test, whose fingerprint
the test pins in place of Amazon's. Nothing is installed on this machine.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import BIN, ROOT, ansible_json, task_results

ROLE = ROOT / "roles/cloudwatch_agent"
AMAZON_FINGERPRINT = "937616F3450B7D806CBD9725D58167303B789C72"  # AWS's documented agent key


def gpg(home, *args, **kwargs):
    return subprocess.run(["gpg", "--batch", "--no-tty", "--homedir", str(home), *args], check=True, **kwargs)


@pytest.fixture(scope="module")
def signer():
    """A throwaway signing key (in a short path: gpg-agent's socket path is length-limited)."""
    home = Path(tempfile.mkdtemp(prefix="tasky-gpg-"))
    home.chmod(0o700)
    try:
        gpg(
            home,
            "--passphrase",
            "",
            "--quick-gen-key",
            "Tasky Test <tasky-test@example.invalid>",
            "ed25519",
            "sign",
            "never",
        )
        listing = gpg(home, "--with-colons", "--list-keys", capture_output=True, text=True).stdout
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        yield home, fingerprint
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def published(tmp_path, signer):
    """A stand-in of AWS's download: .deb, its detached .sig and the public key, as files."""
    home, fingerprint = signer
    site = tmp_path / "site"
    site.mkdir()
    deb = site / "amazon-cloudwatch-agent.deb"
    deb.write_bytes(b"!<arch>\nnot a real agent, a stand-in for the signature check\n")
    gpg(home, "--detach-sign", "--output", str(site / "amazon-cloudwatch-agent.deb.sig"), str(deb))
    gpg(home, "--armor", "--export", "--output", str(site / "amazon-cloudwatch-agent.gpg"), fingerprint)
    return site, fingerprint


def fetch(tmp_path, site, fingerprint, check=False, **role_vars):
    """Runs the role's fetch-deb.yml on localhost against the stand-in files."""
    play = {
        "name": "Fetch and verify the agent .deb",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "tasks": [
            {
                "name": "The role's download and signature check",
                "ansible.builtin.include_role": {"name": "cloudwatch_agent", "tasks_from": "fetch-deb.yml"},
                "vars": {
                    "cloudwatch_agent_deb_url": f"file://{site}/amazon-cloudwatch-agent.deb",
                    "cloudwatch_agent_gpg_key_url": f"file://{site}/amazon-cloudwatch-agent.gpg",
                    "cloudwatch_agent_download_dir": str(tmp_path / "cache"),
                    "cloudwatch_agent_gpg_fingerprint": fingerprint,
                    **role_vars,
                },
            }
        ],
    }
    playbook = tmp_path / "fetch.yml"
    playbook.write_text(json.dumps([play]))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)] + (["--check"] if check else [])
    facts = {"architecture": "x86_64", "os_family": "Debian", "distribution": "Debian"}
    cmd += ["-e", json.dumps({"ansible_python_interpreter": sys.executable, "ansible_facts": facts})]
    return ansible_json(cmd)


def failures(out):
    """Messages of the failed tasks, and of the failed items of a failed loop."""
    found = []
    for _, r in task_results(out):
        if r.get("failed"):
            items = [str(i.get("msg")) for i in r.get("results", []) if i.get("failed")]
            found += items or [str(r.get("msg"))]
    return found


def cached(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").iterdir()) if (tmp_path / "cache").exists() else []


def test_a_good_signature_by_the_pinned_key_passes_and_a_second_run_changes_nothing(tmp_path, published):
    site, fingerprint = published
    rc, out = fetch(tmp_path, site, fingerprint)
    assert rc == 0, failures(out)
    assert out["stats"]["localhost"]["changed"] >= 1
    assert cached(tmp_path) == [
        "amazon-cloudwatch-agent-1.300072.0b1766-amd64.deb",
        "amazon-cloudwatch-agent-1.300072.0b1766-amd64.deb.sig",
        "amazon-cloudwatch-agent.gpg",
    ]
    rc, out = fetch(tmp_path, site, fingerprint)
    assert rc == 0, failures(out)
    assert out["stats"]["localhost"]["changed"] == 0
    # The fingerprint may be written as AWS prints it, in groups.
    spaced = " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4))
    rc, out = fetch(tmp_path, site, spaced)
    assert rc == 0, failures(out)


def test_a_tampered_deb_is_refused_and_removed(tmp_path, published):
    site, fingerprint = published
    with open(site / "amazon-cloudwatch-agent.deb", "ab") as deb:
        deb.write(b"one more byte")
    rc, out = fetch(tmp_path, site, fingerprint)
    assert rc != 0
    (msg,) = failures(out)
    assert "is NOT installed" in msg and "amazon-cloudwatch-agent.deb" in msg and "BAD signature" in msg
    assert cached(tmp_path) == []  # the next run downloads again


def test_a_good_signature_by_another_key_is_refused(tmp_path, published):
    """Signed, but not by the key whose fingerprint is pinned (here: Amazon's own)."""
    site, fingerprint = published
    rc, out = fetch(tmp_path, site, AMAZON_FINGERPRINT)
    assert rc != 0
    (msg,) = failures(out)
    assert "cloudwatch_agent_gpg_fingerprint" in msg and AMAZON_FINGERPRINT in msg and fingerprint in msg


def test_a_missing_signature_fails_the_run(tmp_path, published):
    site, fingerprint = published
    (site / "amazon-cloudwatch-agent.deb.sig").unlink()
    rc, out = fetch(tmp_path, site, fingerprint)
    assert rc != 0
    assert "amazon-cloudwatch-agent.deb.sig" in " ".join(failures(out))
    assert not any(n.endswith(".deb.sig") for n in cached(tmp_path))


def test_an_optional_sha256_pin_is_checked_too(tmp_path, published):
    site, fingerprint = published
    rc, out = fetch(tmp_path, site, fingerprint, cloudwatch_agent_deb_sha256="0" * 64)
    assert rc != 0
    assert "checksum" in " ".join(failures(out)).lower()
    assert not any(n.endswith(".deb") for n in cached(tmp_path))


def test_check_mode_downloads_nothing(tmp_path, published):
    site, fingerprint = published
    rc, out = fetch(tmp_path, site, fingerprint, check=True)
    assert rc == 0, failures(out)
    assert out["stats"]["localhost"]["changed"] >= 1
    assert cached(tmp_path) == []


def render_urls(tmp_path, host_facts, **role_vars):
    """The role's own defaults and vars, templated for the given host facts."""
    names = ["cloudwatch_agent_deb_url", "cloudwatch_agent_deb_sig_url", "cloudwatch_agent_gpg_key_url"]
    play = {
        "name": "Render the agent download URLs",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults/main.yml"), str(ROLE / "vars/main.yml")],
        "tasks": [{"name": "urls", "ansible.builtin.debug": {"msg": {n: f"{{{{ {n} }}}}" for n in names}}}],
    }
    playbook = tmp_path / "urls.yml"
    playbook.write_text(json.dumps([play]))
    extra = {"ansible_python_interpreter": sys.executable, "ansible_facts": host_facts, **role_vars}
    rc, out = ansible_json([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook), "-e", json.dumps(extra)])
    assert rc == 0, failures(out)
    return dict(task_results(out))["urls"]["msg"]


BASE = "https://amazoncloudwatch-agent.s3.amazonaws.com"


@pytest.mark.parametrize(
    ("distribution", "architecture", "path"),
    [
        ("Debian", "x86_64", "debian/amd64"),
        ("Debian", "aarch64", "debian/arm64"),
        ("Ubuntu", "x86_64", "ubuntu/amd64"),
        ("Ubuntu", "arm64", "ubuntu/arm64"),
    ],
)
def test_urls_follow_aws_published_layout_for_the_pinned_version(tmp_path, distribution, architecture, path):
    version = yaml.safe_load((ROLE / "defaults/main.yml").read_text())["cloudwatch_agent_version"]
    urls = render_urls(tmp_path, {"distribution": distribution, "architecture": architecture, "os_family": "Debian"})
    assert urls["cloudwatch_agent_deb_url"] == f"{BASE}/{path}/{version}/amazon-cloudwatch-agent.deb"
    assert urls["cloudwatch_agent_deb_sig_url"] == urls["cloudwatch_agent_deb_url"] + ".sig"
    assert urls["cloudwatch_agent_gpg_key_url"] == f"{BASE}/assets/amazon-cloudwatch-agent.gpg"
    assert "latest" not in urls["cloudwatch_agent_deb_url"]


def test_a_mirror_and_another_version(tmp_path):
    urls = render_urls(
        tmp_path,
        {"distribution": "Debian", "architecture": "x86_64", "os_family": "Debian"},
        cloudwatch_agent_download_base_url="https://mirror.example.internal/cwagent",
        cloudwatch_agent_version="1.300040.0b650",
    )
    assert urls["cloudwatch_agent_deb_url"] == (
        "https://mirror.example.internal/cwagent/debian/amd64/1.300040.0b650/amazon-cloudwatch-agent.deb"
    )


def test_pinned_fingerprint_is_the_one_aws_documents():
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    assert defaults["cloudwatch_agent_gpg_fingerprint"] == AMAZON_FINGERPRINT
