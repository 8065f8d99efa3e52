"""Public, yet private and tamper-evident (issue 18), on the real parts: the lab's RGW, MongoDB's
real mongodump and mongorestore against FerretDB, stock `age` (Debian's) and OpenSSH's
ssh-keygen.

- What the public prefix serves is ciphertext: a marker written to the database is in no public
  byte, and the host's internal name is in no public metadata, manifest or catalogue; the
  team's stock age tool decrypts it and stock ssh-keygen verifies its manifest.
- Anyone holding a host's S3 keys can rewrite objects and their metadata, never a manifest's
  signature: a planted backup with matching sha256 metadata, a forged manifest, one flipped
  byte are refused by verify, restore and drill, naming why, and nothing is restored.
- A restore trusts nothing inside either: members with `..`, absolute paths or links out are
  refused by name; admin is never restored; validators are bypassed.
- Object Lock on RGW: the host's keys cannot delete or overwrite a locked version.
- The promotion gate: a backup that shrank too much stays as taken but does not become latest.
"""

import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import tarfile
import uuid

import bson
import pytest
import requests
from conftest import (
    ENDPOINT,
    ROOT,
    S3_PORT,
    TEST_HOST_ALIAS,
    age_identity,
    allow_anonymous_downloads,
    keys,
    resign,
    run_engine,
    seed,
    snapshot,
    write_config,
)
from test_drill import run_drill

TEAM_KEY = ROOT / "tests/lab/fixtures/lab-team-age-key.txt"


@pytest.fixture
def team(tmp_path):
    """The team's age identity (a fresh one; its secret never goes into the engine's settings)."""
    path, recipient = age_identity(tmp_path, "team-key.txt")
    return path, recipient


@pytest.fixture
def trusted(drill_config, team, tmp_path, s3):
    """A public prefix, backups encrypted to the team and to the host's own drill identity, the
    drill on; returns (path, config)."""
    path, config = drill_config
    host_identity, host_recipient = age_identity(tmp_path, "host-age-identity.txt")
    config = {
        **config,
        "public": True,
        "age_recipients": [team[1], host_recipient],
        "age_identity": host_identity,
    }
    write_config(path, config)
    allow_anonymous_downloads(s3, config["bucket"])
    return path, config


def backup(path, *args):
    proc = run_engine("backup", "--config", str(path), *args)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SUMMARY ")]
    return proc.returncode, json.loads(lines[-1][len("SUMMARY ") :]) if lines else {"stderr": proc.stderr}


def engine_json(*args):
    proc = run_engine(*args)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        return proc.returncode, {"stderr": proc.stderr, "stdout": proc.stdout}


def public_bytes(s3, bucket):
    """{key: the bytes anyone gets} of every object under backups/, fetched anonymously."""
    found = {}
    for key in keys(s3, bucket):
        answer = requests.get(f"{ENDPOINT}/{bucket}/{key}", timeout=30)
        assert answer.status_code == 200, key
        found[key] = answer.content
    return found


def test_the_public_prefix_serves_no_plaintext_and_no_host_name(s3, trusted, app_db, team, tmp_path):
    path, config = trusted
    marker = f"TASKY-MARKER-{uuid.uuid4().hex}"
    seed(app_db, todos=20, users=3)
    app_db.secrets.insert_one({"_id": 1, "note": marker})
    rc, result = backup(path)
    assert rc == 0, result
    assert result["key"].endswith(".tar.gz.age") and result["encrypted_to"] == config["age_recipients"]

    served = public_bytes(s3, config["bucket"])
    assert result["key"] in served and "backups/latest.tar.gz.age" in served
    assert not any(key.endswith((".tar.gz", ".archive.gz")) for key in served)  # no plaintext backup at all
    for key, body in served.items():
        assert marker.encode() not in body, key
        assert marker.encode() not in gzip_or_raw(body), key
    # No internal host name in what is public: metadata, manifests, the catalogue.
    hostname = socket.gethostname()
    for key, body in served.items():
        meta = s3.head_object(Bucket=config["bucket"], Key=key)["Metadata"]
        assert hostname not in meta.values(), key
        if key.endswith((".json", ".html")):
            assert f'"{hostname}"' not in body.decode() and f">{hostname}<" not in body.decode(), key
    manifest = json.loads(served[result["key"] + ".json"])
    assert manifest["host"] == TEST_HOST_ALIAS and manifest["encrypted_to"] == config["age_recipients"]

    # The team reads it with the stock age tool and its own key: the marker is there.
    out = tmp_path / "restored"
    out.mkdir()
    encrypted = tmp_path / "latest.tar.gz.age"
    encrypted.write_bytes(served["backups/latest.tar.gz.age"])
    subprocess.run(f"age -d -i {team[0]} {encrypted} | tar -xz -C {out}", shell=True, check=True)  # noqa: S602
    (folder,) = out.iterdir()
    assert marker.encode() in (folder / app_db.name / "secrets.bson").read_bytes()


def gzip_or_raw(body):
    try:
        return gzip.decompress(body)
    except (OSError, EOFError):
        return body


def test_stock_ssh_keygen_verifies_the_manifest_and_the_catalogue_says_how(s3, trusted, app_db, tmp_path):
    path, config = trusted
    seed(app_db, todos=5, users=1)
    rc, result = backup(path)
    assert rc == 0, result
    served = public_bytes(s3, config["bucket"])
    (tmp_path / "m.json").write_bytes(served[result["key"] + ".json"])
    (tmp_path / "m.json.sig").write_bytes(served[result["key"] + ".json.sig"])
    verify = [
        "ssh-keygen", "-Y", "verify", "-f", config["allowed_signers"], "-I", TEST_HOST_ALIAS,
        "-n", "tasky-backup", "-s", str(tmp_path / "m.json.sig"),
    ]  # fmt: skip
    with open(tmp_path / "m.json", "rb") as manifest:
        checked = subprocess.run(verify, stdin=manifest, capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and f'Good "tasky-backup" signature for {TEST_HOST_ALIAS}' in checked.stdout
    manifest = json.loads(served[result["key"] + ".json"])
    stored = served[result["key"]]
    assert manifest["sha256"] == hashlib.sha256(stored).hexdigest() and manifest["size"] == len(stored)
    page = served["backups/index.html"].decode()
    assert "age -d -i key.txt" in page and "ssh-keygen -Y verify -f allowed_signers" in page
    assert "--bypassDocumentValidation" in page and "--nsExclude=&#x27;admin.*&#x27;" in page
    index = json.loads(served["backups/index.json"])
    assert index["backups"][0]["signature"] == "good" and index["backups"][0]["encrypted"] is True


def test_a_plaintext_public_prefix_is_refused_unless_on_purpose(engine_config):
    path, config = engine_config
    write_config(path, {**config, "public": True})
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 2 and "age_recipients is empty and the prefix is public" in proc.stderr
    write_config(path, {**config, "public": True, "public_plaintext": True})
    assert run_engine("check", "--config", str(path)).returncode == 0


def host_client():
    """S3 as the lab's host user: what someone holding a host's keys can do."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=os.environ.get("LAB_HOST_ACCESS_KEY", "TASKYLABHOSTKEY00000"),
        aws_secret_access_key=os.environ.get("LAB_HOST_SECRET_KEY", "tasky-lab-host-throwaway-secret-key-00000"),
        region_name="us-east-1",
    )


def grant_host(s3, bucket):
    """The bucket policy the backup_bucket role gives the hosts' user on RGW (and public read)."""
    host, arn = "arn:aws:iam:::user/tasky-lab-host", f"arn:aws:s3:::{bucket}"
    statements = [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{arn}/backups/*"},
        {"Effect": "Allow", "Principal": {"AWS": [host]}, "Action": ["s3:ListBucket"], "Resource": arn},
        {
            "Effect": "Allow",
            "Principal": {"AWS": [host]},
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention"],
            "Resource": f"{arn}/*",
        },
    ]  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def refused_everywhere(path, config, mongo_admin, db, why):
    """verify, restore and drill all refuse latest, naming why; the database is untouched."""
    before = snapshot(mongo_admin, db)
    rc, verified = engine_json("verify", "--config", str(path))
    assert rc == 1 and verified["valid"] is False and any(why in p for p in verified["problems"]), verified["problems"]
    proc = run_engine("restore", "--config", str(path), "--drop")
    assert proc.returncode == 1 and why in proc.stderr, proc.stderr
    rc, drilled = run_drill(path)
    assert rc == 1 and why in (drilled.get("error") or ""), drilled
    assert snapshot(mongo_admin, db) == before
    assert "running " + config["mongorestore_path"] not in open(config["log_file"], encoding="utf-8").read()


def test_a_planted_backup_with_matching_metadata_is_refused(s3, trusted, app_db, mongo_admin, team, tmp_path):
    """Someone with the host's S3 keys replaces latest (and the backup it names) with their own
    archive, its sha256 and size in the metadata made to match."""
    path, config = trusted
    seed(app_db, todos=10, users=2)
    rc, result = backup(path)
    assert rc == 0, result
    grant_host(s3, config["bucket"])
    attacker = host_client()
    planted = b"age-encryption.org/v1\n-> X25519 planted\n" + os.urandom(4096)
    digest = hashlib.sha256(planted).hexdigest()
    for key in (result["key"], "backups/latest.tar.gz.age"):
        meta = s3.head_object(Bucket=config["bucket"], Key=key)["Metadata"]
        attacker.put_object(
            Bucket=config["bucket"],
            Key=key,
            Body=planted,
            Metadata={**meta, "sha256": digest, "size": str(len(planted))},
        )
    refused_everywhere(path, config, mongo_admin, app_db.name, "from the recorded")

    # The attacker signs a manifest of their own, with a key of their own: an unknown signer.
    manifest = json.loads(s3.get_object(Bucket=config["bucket"], Key=result["key"] + ".json")["Body"].read())
    forged = json.dumps({**manifest, "sha256": digest, "size": len(planted)}, indent=1, sort_keys=True).encode() + b"\n"
    own_key = tmp_path / "attacker-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(own_key)], check=True)
    signed = subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-f", str(own_key), "-n", "tasky-backup"],
        input=forged,
        capture_output=True,
        check=True,
    ).stdout
    attacker.put_object(Bucket=config["bucket"], Key=result["key"] + ".json", Body=forged)
    attacker.put_object(Bucket=config["bucket"], Key=result["key"] + ".json.sig", Body=signed)
    refused_everywhere(path, config, mongo_admin, app_db.name, "unknown signer")

    # The host's own signature kept, the manifest edited to match the planted bytes: a bad signature.
    sig_key = result["key"] + ".json.sig"
    first = first_version(s3, config["bucket"], sig_key)
    original_sig = s3.get_object(Bucket=config["bucket"], Key=sig_key, VersionId=first)
    attacker.put_object(Bucket=config["bucket"], Key=sig_key, Body=original_sig["Body"].read())
    refused_everywhere(path, config, mongo_admin, app_db.name, "bad signature")


def first_version(s3, bucket, key):
    versions = [v for v in s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"] if v["Key"] == key]
    return min(versions, key=lambda v: v["LastModified"])["VersionId"]


def test_one_flipped_byte_is_refused(s3, trusted, app_db, mongo_admin):
    path, config = trusted
    seed(app_db, todos=10, users=2)
    assert backup(path)[0] == 0
    key = "backups/latest.tar.gz.age"
    obj = s3.get_object(Bucket=config["bucket"], Key=key)
    body = bytearray(obj["Body"].read())
    body[len(body) // 2] ^= 0x01
    s3.put_object(Bucket=config["bucket"], Key=key, Body=bytes(body), Metadata=obj["Metadata"])
    refused_everywhere(path, config, mongo_admin, app_db.name, "from the recorded")


def evil_archive(name, db, member):
    """A tar.gz of a real-looking dump folder plus one hostile member."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        data = bson.encode({"_id": 1, "name": "todo"})
        info = tarfile.TarInfo(f"{name}/{db}/todos.bson")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return out.getvalue()


@pytest.mark.parametrize(
    ("kind", "member_name"),
    [("dotdot", "{top}/../../escaped.txt"), ("absolute", "{tmp}/escaped-{tag}.txt"), ("symlink", "{top}/link")],
)
def test_unsafe_members_are_refused_by_restore_and_drill(
    s3, drill_config, app_db, mongo_admin, kind, member_name, tmp_path
):
    """Even in a backup its host signed (a host that was itself compromised), a member that
    would land outside the scratch directory is refused, naming it, before mongorestore runs."""
    path, config = drill_config
    seed(app_db, todos=3, users=1)
    rc, result = backup(path)
    assert rc == 0, result
    tag = uuid.uuid4().hex[:8]
    top = result["name"]
    member = tarfile.TarInfo(member_name.format(top=top, tag=tag, tmp=tmp_path))
    if kind == "symlink":
        member.type, member.linkname = tarfile.SYMTYPE, "/etc"
    else:
        member.size = 1
    resign(s3, config, "backups/latest.tar.gz", evil_archive(top, app_db.name, member))
    proc = run_engine("restore", "--config", str(path), "--drop")
    assert proc.returncode == 1 and f"unsafe member, refused: {member.name}" in proc.stderr, proc.stderr
    rc, drilled = run_drill(path)
    assert rc == 1 and f"unsafe member, refused: {member.name}" in drilled["error"], drilled
    assert not os.path.exists(tmp_path / f"escaped-{tag}.txt")
    assert not list(ROOT.glob("**/escaped.txt"))
    assert os.listdir(config["work_dir"]) == []  # the scratch directories are gone


def test_admin_in_an_archive_is_never_restored(s3, drill_config, app_db, mongo_admin, restore_login):
    """A backup that (whoever made it) holds an admin database: mongorestore is told never to
    restore admin, config or local, and validators are bypassed."""
    path, config = drill_config
    seed(app_db, todos=3, users=1)
    rc, result = backup(path)
    assert rc == 0, result
    top = result["name"]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for folder, collection, doc in ((app_db.name, "todos", {"_id": 99, "n": 1}), ("admin", "planted", {"_id": 1})):
            data = bson.encode(doc)
            info = tarfile.TarInfo(f"{top}/{folder}/{collection}.bson")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    resign(s3, config, "backups/latest.tar.gz", out.getvalue())
    user, secret = restore_login
    mongo_admin.admin.drop_collection("planted")  # the server is shared: start without one
    try:
        proc = run_engine("restore", "--config", str(path), "--restore-user", user, "--restore-config", secret)
        assert proc.returncode == 0, proc.stderr
        assert "planted" not in mongo_admin.admin.list_collection_names()
    finally:
        mongo_admin.admin.drop_collection("planted")  # only there if the test failed
    assert app_db.todos.find_one({"_id": 99}) == {"_id": 99, "n": 1}
    log = open(config["log_file"], encoding="utf-8").read()
    assert "--nsExclude=admin.*" in log and "--bypassDocumentValidation" in log


def test_a_backup_without_a_manifest_restores_only_when_told(s3, engine_config, app_db, restore_login):
    """allow_unsigned accepts a backup with neither manifest nor signature that is named before
    the host began signing (signed_since), and nothing else: half of the pair missing is
    tampering, and so is a backup without either named later."""
    path, config = engine_config
    seed(app_db, todos=4, users=1)
    rc, result = backup(path)
    assert rc == 0, result
    key = result["key"]
    user, secret = restore_login
    login = ["--restore-user", user, "--restore-config", secret, "--key", key]
    s3.delete_object(Bucket=config["bucket"], Key=key + ".json.sig")
    proc = run_engine("restore", "--config", str(path), *login, "--allow-unsigned")
    assert proc.returncode == 1 and "has an unsigned manifest: it cannot be trusted" in proc.stderr, proc.stderr
    s3.delete_object(Bucket=config["bucket"], Key=key + ".json")
    proc = run_engine("restore", "--config", str(path), *login, "--allow-unsigned")
    assert proc.returncode == 1 and "signed_since is not set, so nothing without one" in proc.stderr, proc.stderr
    write_config(path, {**config, "signed_since": "2020-01-01T00:00:00Z"})  # signing began before this backup
    proc = run_engine("restore", "--config", str(path), *login, "--allow-unsigned")
    assert proc.returncode == 1 and "taken or stored after signing began (2020-01-01" in proc.stderr, proc.stderr
    write_config(path, {**config, "signed_since": "2099-01-01T00:00:00Z"})  # as if taken before manifests
    proc = run_engine("restore", "--config", str(path), *login)
    assert proc.returncode == 1 and "allow_unsigned accepts a backup taken before 2099-01-01T00:00:00Z" in proc.stderr
    proc = run_engine("restore", "--config", str(path), *login, "--allow-unsigned", "--drop")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["signed"] is False


def test_a_backup_that_shrank_too_much_is_kept_but_not_made_latest(s3, engine_config, app_db):
    path, config = engine_config
    write_config(path, {**config, "databases": [app_db.name]})
    seed(app_db, todos=100, users=10)
    rc, first = backup(path)
    assert rc == 0, first
    latest = s3.head_object(Bucket=config["bucket"], Key="backups/latest.tar.gz")
    app_db.todos.delete_many({"_id": {"$in": [d["_id"] for d in app_db.todos.find().limit(80)]}})
    rc, shrunk = backup(path)
    assert rc == 1 and "is kept but not made latest: its documents dropped" in shrunk["error"], shrunk
    after = s3.head_object(Bucket=config["bucket"], Key="backups/latest.tar.gz")
    assert after["ETag"] == latest["ETag"] and after["Metadata"]["tasky-backup"] == first["name"]
    taken = [k for k in keys(s3, config["bucket"]) if k.endswith(".tar.gz") and k.startswith("backups/mongodb-backup-")]
    assert len(taken) == 2  # the shrunk backup stays, as evidence, with its manifest
    assert all(k + ".json" in keys(s3, config["bucket"]) for k in taken)
    rc, accepted = backup(path, "--accept-shrink")
    assert rc == 0, accepted
    assert (
        s3.head_object(Bucket=config["bucket"], Key="backups/latest.tar.gz")["Metadata"]["tasky-backup"]
        == accepted["name"]
    )


@pytest.fixture
def locked_bucket(s3):
    """A bucket of its own made with Object Lock on (as the backup_bucket role makes one with
    backup_bucket_object_lock_days); emptied afterwards as its owner, bypassing GOVERNANCE."""
    name = f"tasky-test-lock-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"], BypassGovernanceRetention=True)
    s3.delete_bucket(Bucket=name)


def test_locked_versions_cannot_be_deleted_or_overwritten_with_the_hosts_keys(s3, engine_config, app_db, locked_bucket):
    path, config = engine_config
    config = {**config, "bucket": locked_bucket, "object_lock_days": 1, "object_lock_mode": "GOVERNANCE"}
    write_config(path, config)
    seed(app_db, todos=5, users=1)
    rc, result = backup(path)
    assert rc == 0, result
    grant_host(s3, locked_bucket)
    attacker = host_client()
    for key in (result["key"], "backups/latest.tar.gz", result["key"] + ".json"):
        head = s3.head_object(Bucket=locked_bucket, Key=key)
        retention = s3.get_object_retention(Bucket=locked_bucket, Key=key, VersionId=head["VersionId"])["Retention"]
        assert retention["Mode"] == "GOVERNANCE"
        with pytest.raises(attacker.exceptions.ClientError, match="AccessDenied"):
            attacker.delete_object(Bucket=locked_bucket, Key=key, VersionId=head["VersionId"])
        body = s3.get_object(Bucket=locked_bucket, Key=key, VersionId=head["VersionId"])["Body"].read()
        attacker.put_object(Bucket=locked_bucket, Key=key, Body=b"overwritten")  # a new version, not the old one
        kept = s3.get_object(Bucket=locked_bucket, Key=key, VersionId=head["VersionId"])["Body"].read()
        assert kept == body
    # What a restore then finds at latest is refused; the locked version is still there to restore.
    proc = run_engine("verify", "--config", str(path))
    assert proc.returncode == 1


def test_a_failed_run_still_takes_back_its_writes_with_object_lock_on(s3, engine_config, app_db, locked_bucket):
    """The lock is set only once everything is verified: a run that fails before that (here: S3
    refuses the copy to latest, after the backup, its manifest and daily were written) deletes
    every version it wrote, and nothing of it is locked."""
    from fault_proxy import FaultProxy
    from test_engine_faults import copy_to

    path, config = engine_config
    config = {**config, "bucket": locked_bucket, "object_lock_days": 1}
    seed(app_db, todos=5, users=1)
    proxy = FaultProxy(S3_PORT, [copy_to("backups/latest.tar.gz")])
    try:
        write_config(path, {**config, "endpoint_url": proxy.endpoint, "s3_patience_s": 1, "retries": 1})
        rc, result = backup(path)
    finally:
        proxy.close()
    assert proxy.hits and rc == 1 and result["status"] == "failed", result
    left = s3.list_object_versions(Bucket=locked_bucket).get("Versions", [])
    assert left == [], [v["Key"] for v in left]  # nothing kept, so nothing locked
