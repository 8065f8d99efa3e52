"""The backup system on the converged host: files, cron, logrotate, a real run of the real
mongodump against the host's FerretDB, a restore of what it uploaded, the module."""

import io
import json
import os
import subprocess
import tarfile

import boto3
import pytest
import requests
import yaml
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from conftest import (
    ADMIN,
    BUCKET,
    LAB_HOST_ACCESS_KEY,
    LAB_HOST_SECRET_KEY,
    MONGODB_PORT,
    S3_ENDPOINT,
    TOOLS_BIN,
    module_on_host,
)

ENGINE_CONFIG = "/etc/mongodb-backup/backup.json"


def test_cron_entry_is_exactly_the_nightly_backup(lab_host):
    cron = lab_host.file("/etc/cron.d/mongodb-backup")
    assert cron.user == "root" and cron.mode == 0o644
    jobs = [line for line in cron.content_string.splitlines() if line and not line.startswith(("#", "SHELL", "PATH"))]
    assert jobs == ["0 2 * * * root /opt/mongodb-backup/backup.sh"]


def test_secrets_are_root_only_files(lab_host):
    secrets = ("mongodump.yaml", "mongorestore-drill.yaml", "s3-credentials")
    for path in (ENGINE_CONFIG, *(f"/etc/mongodb-backup/{name}" for name in secrets)):
        f = lab_host.file(path)
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600), path
    # The engine's configuration holds no secret: the S3 keys are in their own file.
    config = json.loads(lab_host.file(ENGINE_CONFIG).content_string)
    assert config["credentials_file"] == "/etc/mongodb-backup/s3-credentials"
    assert "secret" not in lab_host.file(ENGINE_CONFIG).content_string.replace("secret_key", "")
    assert lab_host.file("/etc/mongodb-backup").mode == 0o700
    for path in ("", "/backup.sh", "/status-check.sh"):  # the engine and its venv are inside, root-only
        assert lab_host.file(f"/opt/mongodb-backup{path}").mode == 0o700


ENGINE_PYTHON = "/opt/mongodb-backup/venv/bin/python"


def engine_files(lab_host):
    """{path under the package: text} of the engine installed in the host's venv."""
    where = lab_host.run(f"{ENGINE_PYTHON} -I -c 'import tasky_backup; print(tasky_backup.__file__)'")
    assert where.rc == 0, where.stderr
    top = os.path.dirname(where.stdout.strip())
    assert top.startswith("/opt/mongodb-backup/venv/lib/"), top
    listed = lab_host.run(f"cd {top} && find . -name '*.py' -not -path '*/__pycache__/*' | sort").stdout.split()
    return top, sorted(path[2:] for path in listed)


def test_the_engines_venv_holds_exactly_the_pinned_libraries(lab_host):
    """Every library and every library they need, at the role's pins and nothing else (installed
    with --no-deps, so the same on every OS), and pip finds no requirement missing."""
    defaults = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "roles/mongodb_backup/defaults/main.yml")
    with open(defaults, encoding="utf-8") as handle:
        pins = yaml.safe_load(handle)
    wanted = pins["mongodb_backup_python_packages"] + pins["mongodb_backup_python_dependencies"]
    frozen = lab_host.run(f"{ENGINE_PYTHON} -I -m pip freeze --all --disable-pip-version-check")
    assert frozen.rc == 0, frozen.stderr
    lines = frozen.stdout.splitlines()  # the engine itself: "tasky-backup @ file:///..."
    got = [line for line in lines if not line.lower().startswith(("pip==", "setuptools==", "tasky"))]
    canonical = sorted(pin.lower().replace("_", "-") for pin in wanted)
    assert sorted(line.lower().replace("_", "-") for line in got) == canonical
    check = lab_host.run(f"{ENGINE_PYTHON} -I -m pip check --disable-pip-version-check")
    assert check.rc == 0 and "No broken requirements found" in check.stdout, check.stdout + check.stderr


def test_engine_on_the_host_is_the_module_utils_package(lab_host):
    """The whole package, subfolders included, and nothing else: installed from one wheel."""
    here = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "module_utils/tasky_backup")
    sources = sorted(
        os.path.relpath(os.path.join(root, name), here)
        for root, _dirs, names in os.walk(here)
        if "__pycache__" not in root
        for name in names
        if name.endswith(".py")
    )
    top, installed = engine_files(lab_host)
    assert installed == sources
    assert any("/" in path for path in installed)  # the wings' subfolders came along
    for name in sources:
        with open(os.path.join(here, name), encoding="utf-8") as handle:
            assert lab_host.file(f"{top}/{name}").content_string == handle.read(), name
    for old in ("/opt/mongodb-backup/tasky_backup", "/opt/mongodb-backup/tasky_backup_engine.py"):
        assert not lab_host.file(old).exists, old
    assert not lab_host.run("ls /opt/mongodb-backup/*.whl").stdout.strip()  # the wheel is not left behind


def test_logrotate_accepts_the_config(lab_host):
    result = lab_host.run("logrotate -d /etc/logrotate.d/mongodb-backup")
    assert result.rc == 0, result.stderr
    assert "/var/log/mongodb-backup.log" in result.stderr + result.stdout


def raw_documents(client, database, collection):
    db = client.get_database(database, codec_options=CodecOptions(document_class=RawBSONDocument))
    return [doc.raw for doc in db[collection].find().sort("_id", 1)]


# The lab "team"'s THROWAWAY age identity (its recipient is in inventory/local).
TEAM_KEY = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tests/lab/fixtures/lab-team-age-key.txt")


def decrypted(body, tmp_path):
    """The plaintext of an age-encrypted download, as the team gets it: stock `age -d` with the
    team's key."""
    key = tmp_path / "team-key.txt"
    key.write_text(open(TEAM_KEY, encoding="utf-8").read())
    key.chmod(0o600)
    return subprocess.run(["age", "-d", "-i", str(key)], input=body, capture_output=True, check=True).stdout


def test_backup_sh_by_hand_uploads_three_identical_public_objects(lab_host, s3, seeded, tmp_path):
    run = lab_host.run("/opt/mongodb-backup/backup.sh")
    assert run.rc == 0, run.stdout + run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1][len("SUMMARY ") :])
    stamped, daily, latest = summary["keys"]
    assert latest == "backups/latest.tar.gz.age" and stamped.endswith(".tar.gz.age")
    bodies = [s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in (stamped, daily, latest)]
    assert bodies[0] == bodies[1] == bodies[2]
    # Anyone can download it over plain HTTP, no credentials: ciphertext, which the team decrypts.
    public = requests.get(f"{S3_ENDPOINT}/{BUCKET}/{latest}", timeout=10)
    assert public.status_code == 200 and public.content == bodies[0]
    assert public.content.startswith(b"age-encryption.org/v1")
    with tarfile.open(fileobj=io.BytesIO(decrypted(public.content, tmp_path)), mode="r:gz") as tar:
        names = tar.getnames()
    assert f"{summary['name']}/go-mongodb/{seeded.name}.bson" in names
    log = lab_host.file("/var/log/mongodb-backup.log").content_string
    assert f"backup {summary['name']} started" in log
    assert f"done dumping go-mongodb.{seeded.name} (50 documents)" in log
    # The public archive holds the application's database only: never admin (users' keys).
    folders = {name.split("/")[1] for name in names if name.count("/") >= 2}
    assert folders == {"go-mongodb"}
    assert "tasky-lab-backup-password" not in log


def test_backup_downloaded_anonymously_restores_every_document(lab_host, seeded, mongo_admin, tmp_path):
    """The app's documents -> backup.sh on the host -> anonymous download of latest.tar.gz.age ->
    age -d with the team's key -> tar -xzf -> the real mongorestore into a fresh database of the host's server: the same
    documents (raw BSON) and indexes."""
    assert lab_host.run("/opt/mongodb-backup/backup.sh").rc == 0
    download = requests.get(f"{S3_ENDPOINT}/{BUCKET}/backups/latest.tar.gz.age", timeout=30)
    assert download.status_code == 200
    (tmp_path / "latest.tar.gz").write_bytes(decrypted(download.content, tmp_path))
    subprocess.run(["tar", "-xzf", str(tmp_path / "latest.tar.gz"), "-C", str(tmp_path)], check=True)
    (dump_dir,) = tmp_path.glob("mongodb-backup-*/")
    target = f"restored_{seeded.name}"
    secret = tmp_path / "restore.yaml"
    secret.write_text(f"password: {ADMIN[1]}\n")
    secret.chmod(0o600)
    ns = f"go-mongodb.{seeded.name}"
    try:
        proc = subprocess.run(
            [
                str(TOOLS_BIN / "mongorestore"),
                "--host=127.0.0.1",
                f"--port={MONGODB_PORT}",
                f"--username={ADMIN[0]}",
                "--authenticationDatabase=admin",
                f"--config={secret}",
                f"--nsInclude={ns}",
                f"--nsFrom={ns}",
                f"--nsTo={target}.{seeded.name}",
                str(dump_dir),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        restored = raw_documents(mongo_admin, target, seeded.name)
        assert len(restored) == 50 and restored == raw_documents(mongo_admin, "go-mongodb", seeded.name)
        indexes = sorted(ix["name"] for ix in mongo_admin[target][seeded.name].list_indexes())
        assert indexes == ["_id_", "name_1"]
    finally:
        mongo_admin.drop_database(target)


def test_status_check_reports_the_last_backup(lab_host, seeded):
    taken = lab_host.run("/opt/mongodb-backup/backup.sh")
    assert taken.rc == 0, taken.stdout
    key = json.loads(taken.stdout.strip().splitlines()[-1][len("SUMMARY ") :])["key"]
    result = lab_host.run("/opt/mongodb-backup/status-check.sh")
    assert result.rc == 0, result.stdout
    status = json.loads(result.stdout)
    assert status["s3_reachable"] and status["next_run"].endswith("T02:00:00Z")
    assert status["key"] == key and status["age_hours"] < 1


def test_module_ad_hoc_takes_a_backup(s3):
    result = module_on_host()
    assert result["changed"] is True and result["status"] == "success", result
    head = s3.head_object(Bucket=BUCKET, Key=result["key"])
    assert head["Metadata"]["sha256"] == result["sha256"]


def test_the_team_verifies_a_manifest_with_the_published_allowed_signers(lab_host, s3, seeded, tmp_path):
    """What the team runs, with stock OpenSSH: the host's manifest checks out against the
    allowed_signers the control node published; the host itself cannot rewrite that file."""
    run = lab_host.run("/opt/mongodb-backup/backup.sh")
    assert run.rc == 0, run.stdout + run.stderr
    key = json.loads(run.stdout.strip().splitlines()[-1][len("SUMMARY ") :])["key"]
    for name in ("allowed_signers", "m.json", "m.json.sig"):
        source = {
            "allowed_signers": "backups/allowed_signers",
            "m.json": key + ".json",
            "m.json.sig": key + ".json.sig",
        }
        answer = requests.get(f"{S3_ENDPOINT}/{BUCKET}/{source[name]}", timeout=10)
        assert answer.status_code == 200, name
        (tmp_path / name).write_bytes(answer.content)
    assert (tmp_path / "allowed_signers").read_text().startswith('lab-db1 namespaces="tasky-backup" ssh-ed25519 ')
    verify = ["ssh-keygen", "-Y", "verify", "-f", str(tmp_path / "allowed_signers"), "-I", "lab-db1"]
    verify += ["-n", "tasky-backup", "-s", str(tmp_path / "m.json.sig")]
    with open(tmp_path / "m.json", "rb") as manifest:
        checked = subprocess.run(verify, stdin=manifest, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    host_keys = boto3.client(
        "s3",
        endpoint_url=S3_ENDPOINT,
        aws_access_key_id=LAB_HOST_ACCESS_KEY,
        aws_secret_access_key=LAB_HOST_SECRET_KEY,
        region_name="us-east-1",
    )
    with pytest.raises(host_keys.exceptions.ClientError, match="AccessDenied"):
        host_keys.put_object(Bucket=BUCKET, Key="backups/allowed_signers", Body=b"attacker ssh-ed25519 AAAA\n")
