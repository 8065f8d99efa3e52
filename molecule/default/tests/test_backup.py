"""The backup system on the converged host: files, cron, logrotate, a real run of the real
mongodump against the host's FerretDB, a restore of what it uploaded, the module."""

import json
import os
import subprocess

import requests
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from conftest import ADMIN, BUCKET, MONGODB_PORT, S3_ENDPOINT, TOOLS_BIN, module_on_host

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


def test_backup_sh_by_hand_uploads_three_identical_public_objects(lab_host, s3, seeded):
    run = lab_host.run("/opt/mongodb-backup/backup.sh")
    assert run.rc == 0, run.stdout + run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1][len("SUMMARY ") :])
    stamped, daily, latest = summary["keys"]
    bodies = [s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in (stamped, daily, latest)]
    assert bodies[0] == bodies[1] == bodies[2]
    # Anyone can download it over plain HTTP, no credentials.
    public = requests.get(f"{S3_ENDPOINT}/{BUCKET}/{latest}", timeout=10)
    assert public.status_code == 200 and public.content == bodies[0]
    listing = lab_host.run(f"curl -s {S3_ENDPOINT}/{BUCKET}/{latest} | tar -tzf -")
    assert f"{summary['name']}/go-mongodb/{seeded.name}.bson" in listing.stdout.splitlines()
    log = lab_host.file("/var/log/mongodb-backup.log").content_string
    assert f"backup {summary['name']} started" in log
    assert f"done dumping go-mongodb.{seeded.name} (50 documents)" in log
    # The public archive holds the application's database only: never admin (users' keys).
    folders = {name.split("/")[1] for name in listing.stdout.splitlines() if name.count("/") >= 2}
    assert folders == {"go-mongodb"}
    assert "tasky-lab-backup-password" not in log


def test_backup_downloaded_anonymously_restores_every_document(lab_host, seeded, mongo_admin, tmp_path):
    """The app's documents -> backup.sh on the host -> anonymous download of latest.tar.gz ->
    tar -xzf -> the real mongorestore into a fresh database of the host's server: the same
    documents (raw BSON) and indexes."""
    assert lab_host.run("/opt/mongodb-backup/backup.sh").rc == 0
    download = requests.get(f"{S3_ENDPOINT}/{BUCKET}/backups/latest.tar.gz", timeout=30)
    assert download.status_code == 200
    (tmp_path / "latest.tar.gz").write_bytes(download.content)
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


def test_status_check_reports_the_last_backup(lab_host):
    result = lab_host.run("/opt/mongodb-backup/status-check.sh")
    assert result.rc == 0, result.stdout
    status = json.loads(result.stdout)
    assert status["s3_reachable"] and status["next_run"].endswith("T02:00:00Z")


def test_module_ad_hoc_takes_a_backup(s3):
    result = module_on_host()
    assert result["changed"] is True and result["status"] == "success", result
    head = s3.head_object(Bucket=BUCKET, Key=result["key"])
    assert head["Metadata"]["sha256"] == result["sha256"]
