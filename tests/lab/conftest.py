"""Shared fixtures: the test lab's real S3 server (Ceph RGW), MongoDB's real mongodump and
mongorestore against a real MongoDB-wire server (FerretDB), and real ansible-playbook runs.

`make pytest` starts the test lab's S3 (lab/s3.sh), CloudWatch (lab/cloudwatch.sh) and
FerretDB (lab/ferretdb.sh), builds the tools (lab/tools.sh) and exports the ports.
"""

import dataclasses
import datetime
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import boto3
import bson
import pymongo
import pytest
import requests
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import PyMongoError

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the .venv that runs pytest also has ansible
S3_PORT = os.environ.get("LAB_S3_PORT", "7490")
ENDPOINT = f"http://127.0.0.1:{S3_PORT}"
# The lab's throwaway credentials (lab/common.sh).
ACCESS_KEY = os.environ.get("LAB_ACCESS_KEY", "TASKYLABACCESSKEY000")
SECRET_KEY = os.environ.get("LAB_SECRET_KEY", "tasky-lab-throwaway-secret-key-0000000000")


def lab_client(service, endpoint):
    """A boto3 client of the lab's service; fails the test plainly when the lab is not up."""
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    try:
        client.list_buckets() if service == "s3" else client.list_metrics()
    except Exception as exc:  # noqa: BLE001 - say plainly what is missing
        pytest.fail(f"the test lab's {service} at {endpoint} does not answer ({exc}); run `make pytest`")
    return client


@pytest.fixture(scope="session")
def s3():
    return lab_client("s3", ENDPOINT)


@pytest.fixture
def bucket_name(s3):
    """A fresh bucket name; the bucket, if a test made one, is removed afterwards with every
    version and upload in it (the lab's S3 keeps objects in RAM, and warm runs reuse it)."""
    name = f"tasky-test-{uuid.uuid4().hex[:12]}"
    yield name
    remove_bucket(s3, name)


def remove_bucket(client, name):
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                client.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        client.delete_bucket(Bucket=name)
    except client.exceptions.NoSuchBucket:
        pass


def anonymous(method, path, **kwargs):
    """A plain HTTP request with no credentials, as a browser or curl would send it."""
    return requests.request(method, f"{ENDPOINT}/{path}", timeout=10, **kwargs)


def ansible_json(cmd):
    """Runs an ansible or ansible-playbook command with the JSON callback; returns (rc, output)."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=600)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"{cmd[0]} printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def run_playbook(*args, extra_vars=None, check=False):
    """Runs site.yml for real against the lab inventory; returns (rc, parsed JSON output)."""
    cmd = [str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventory/local"), str(ROOT / "site.yml")]
    cmd += list(args)
    if check:
        cmd += ["--check", "--diff"]
    extra = {"backup_bucket_endpoint_url": ENDPOINT, **(extra_vars or {})}
    return ansible_json([*cmd, "-e", json.dumps(extra)])


def task_results(out, host="localhost"):
    """(task name, result) for every task that ran on host, in order."""
    for play in out["plays"]:
        for task in play["tasks"]:
            if host in task["hosts"]:
                yield task["task"]["name"], task["hosts"][host]


sys.path.insert(0, str(ROOT / "module_utils"))


@pytest.fixture
def backup_bucket(s3, bucket_name):
    """A versioned bucket on the lab's RGW, as the backup_bucket role leaves it."""
    s3.create_bucket(Bucket=bucket_name)
    s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    return bucket_name


def allow_anonymous_downloads(s3, bucket):
    """Anonymous s3:GetObject under backups/, as the role's public-read policy grants it."""
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/backups/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


# --- MongoDB: MongoDB's real tools and pytest's own FerretDB (lab/tools.sh, lab/ferretdb.sh) ---
# `make pytest` builds the tools once and starts a FerretDB (a MongoDB-wire server, not mongod)
# on 127.0.0.1:LAB_FERRETDB_PORT, authentication on. Its first user is FerretDB's setup user;
# the tests log in as it to make their own users, with the throwaway passwords below.

TOOLS_BIN = ROOT / ".lab/tools/bin"
MONGODUMP = TOOLS_BIN / "mongodump"
MONGORESTORE = TOOLS_BIN / "mongorestore"
# The real mongodump plus a made-up oplog.bson, for the --oplog test only (its docstring says why).
FERRETDB_FAKE_OPLOG_MONGODUMP = ROOT / "tests/lab/fixtures/ferretdb_fake_oplog_mongodump"
MONGODB_PORT = int(os.environ.get("LAB_FERRETDB_PORT", "27190"))
SETUP_USER = os.environ.get("LAB_FERRETDB_SETUP_USER", "lab-setup")
SETUP_PASSWORD = os.environ.get("LAB_FERRETDB_SETUP_PASSWORD", "tasky-lab-ferretdb-setup-throwaway")
# Throwaway users of pytest's FerretDB; they protect nothing outside this machine.
BACKUP_USER, BACKUP_PASSWORD = "backup", "test-backup-password-not-real"
APP_USER, APP_PASSWORD, APP_AUTH_DB = "tasky", "test-app-password-not-real", "go-mongodb"
# Every database a test makes starts with this, and is dropped after it (and at the next
# session's start, should an interrupted run have left one).
TEST_DB_PREFIX = "t_"
RAW = CodecOptions(document_class=RawBSONDocument)


def mongo_client(user, password, auth_db="admin"):
    return pymongo.MongoClient(
        host="127.0.0.1",
        port=MONGODB_PORT,
        username=user,
        password=password,
        authSource=auth_db,
        directConnection=True,
        serverSelectionTimeoutMS=5000,
    )


def ensure_user(client, database, name, password):
    """Creates the user, or sets its password again, so it is the known one on every run.
    No roles: FerretDB 1.24 refuses any (NotImplemented) and enforces none."""
    if client[database].command("usersInfo", name)["users"]:
        client[database].command("updateUser", name, pwd=password)
    else:
        client[database].command("createUser", name, pwd=password, roles=[])


@pytest.fixture(scope="session")
def mongo_admin():
    """pytest's FerretDB, logged in as its setup user; makes the backup and application users."""
    client = mongo_client(SETUP_USER, SETUP_PASSWORD)
    try:
        names = client.list_database_names()
    except PyMongoError as exc:
        pytest.fail(f"pytest's FerretDB on 127.0.0.1:{MONGODB_PORT} does not answer ({exc}); run `make pytest`")
    for name in names:
        if name.startswith((TEST_DB_PREFIX, f"drill_{TEST_DB_PREFIX}")):  # and restore drills' scratch databases
            client.drop_database(name)
    ensure_user(client, "admin", BACKUP_USER, BACKUP_PASSWORD)
    ensure_user(client, APP_AUTH_DB, APP_USER, APP_PASSWORD)
    yield client
    client.close()


def new_database_name():
    return f"{TEST_DB_PREFIX}{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fresh_db_name(mongo_admin):
    """The name of a database no one has written to yet; dropped after the test."""
    name = new_database_name()
    yield name
    mongo_admin.drop_database(name)


@pytest.fixture
def app_db(mongo_admin):
    """This test's own database, as the application user sees it: what the test writes goes
    through the server, authenticated as that user. Dropped after the test."""
    name = new_database_name()
    client = mongo_client(APP_USER, APP_PASSWORD, APP_AUTH_DB)
    yield client[name]
    client.close()
    mongo_admin.drop_database(name)


def seed(db, todos=200, users=20):
    """Writes documents of many BSON types (those FerretDB 1.24 stores: not Decimal128, MinKey,
    MaxKey, JavaScript code or NaN) and two secondary indexes."""
    rng = random.Random(db.name)  # noqa: S311 - test data, not security
    db.users.insert_many(
        [
            {"_id": bson.ObjectId(), "email": f"user{i}@example.com", "uuid": bson.Binary(rng.randbytes(16), 4)}
            for i in range(users)
        ]
    )
    db.todos.insert_many(
        [
            {
                "_id": bson.ObjectId(),
                "name": f"task {i}",
                "completed": rng.random() < 0.5,
                "userid": i % 20,
                "estimate_ms": bson.Int64(rng.randrange(1 << 40)),
                "weight": rng.random(),
                "due": datetime.datetime(2025, 1, 1) + datetime.timedelta(minutes=rng.randrange(10**6)),
                "tags": [f"tag{j}" for j in range(i % 4)],
                "detail": {"notes": None if i % 3 else f"note {i}", "steps": [{"n": j} for j in range(i % 3)]},
                "attachment": bson.Binary(rng.randbytes(i % 50)),
                "pattern": bson.Regex(f"^task {i}", "i"),
                "stamp": bson.Timestamp(1_700_000_000 + i, 1),
            }
            for i in range(todos)
        ]
    )
    db.todos.create_index("name")
    db.users.create_index("email", unique=True)


def seed_bulk(db, total_bytes):
    """About total_bytes of 16 KiB documents in db.events, half random (incompressible) and half
    text, written through the server: real data for tests that need a dump of some size."""
    text = " ".join(f"field{i}=value{i * 7919 % 1000}" for i in range(600))[: 8 << 10]
    count = total_bytes // (16 << 10)
    for start in range(0, count, 64):
        db.events.insert_many(
            [{"_id": i, "payload": os.urandom(8 << 10), "text": text} for i in range(start, min(count, start + 64))]
        )


def snapshot(client, name):
    """Every document of every collection of database `name`, as the raw BSON the server sends
    (so types and field order count, not only values), sorted by _id; and the index names."""
    db = client.get_database(name, codec_options=RAW)
    docs = {coll: [doc.raw for doc in db[coll].find().sort("_id", 1)] for coll in sorted(db.list_collection_names())}
    indexes = {coll: sorted(ix["name"] for ix in db[coll].list_indexes()) for coll in docs}
    return {"documents": docs, "indexes": indexes}


@pytest.fixture
def engine_config(tmp_path, backup_bucket, mongo_admin):
    """Writes a host-style engine config (0600) for the real mongodump/mongorestore against
    pytest's FerretDB, as its backup user (password in a 0600 --config file); returns (path, dict)."""
    secret = tmp_path / "mongodump.yaml"
    secret.write_text(f"password: {BACKUP_PASSWORD}\n")
    secret.chmod(0o600)
    config = {
        "bucket": backup_bucket,
        "endpoint_url": ENDPOINT,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "mongodb_port": MONGODB_PORT,
        "mongodb_user": BACKUP_USER,
        "mongodump_config": str(secret),
        "mongodump_path": str(MONGODUMP),
        "mongorestore_path": str(MONGORESTORE),
        "work_dir": str(tmp_path / "work"),
        "lock_file": str(tmp_path / "backup.lock"),
        "log_file": str(tmp_path / "backup.log"),
        "state_file": str(tmp_path / "state.json"),
        "retries": 2,
        "part_size_mib": 5,
    }
    config.update(signing_identity(tmp_path))
    path = tmp_path / "backup.json"
    write_config(path, config)
    return path, config


# The public name the engine's tests sign as; a host's own alias in production.
TEST_HOST_ALIAS = "test-db1"


def signing_identity(tmp_path, alias=TEST_HOST_ALIAS):
    """The settings of a host that signs its manifests: a fresh ed25519 key (stock ssh-keygen)
    and an allowed_signers file naming it for `alias`, as the role makes them on a host."""
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", alias, "-f", str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'{alias} namespaces="tasky-backup" {(tmp_path / "signing-key.pub").read_text().strip()}\n')
    return {"signing_key": str(key), "allowed_signers": str(signers), "host_alias": alias}


def resign(s3, config, key, body, **manifest_changes):
    """Puts body at key (metadata sha256 and size made to match) and re-signs the manifest of
    the backup key is (or copies) for it with the host's own key: a backup that was damaged
    before its host signed it (a bad dump, a bad disk), which every check of the stored bytes
    passes. What is inside is for the restore itself to find."""
    import hashlib

    bucket = config["bucket"]
    meta = s3.head_object(Bucket=bucket, Key=key)["Metadata"]
    digest, size = hashlib.sha256(body).hexdigest(), len(body)
    s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={**meta, "sha256": digest, "size": str(size)})
    name, ext = meta["tasky-backup"], key.split("/")[-1].split(".", 1)[1]
    backup_key = f"backups/{name}.{ext}"
    if backup_key != key:
        s3.put_object(Bucket=bucket, Key=backup_key, Body=body, Metadata={**meta, "sha256": digest, "size": str(size)})
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=backup_key + ".json")["Body"].read())
    changed = {**manifest, "sha256": digest, "size": size, **manifest_changes}
    raw = json.dumps(changed, indent=1, sort_keys=True).encode() + b"\n"
    sign = ["ssh-keygen", "-Y", "sign", "-f", config["signing_key"], "-n", "tasky-backup"]
    signature = subprocess.run(sign, input=raw, capture_output=True, check=True).stdout
    s3.put_object(Bucket=bucket, Key=backup_key + ".json", Body=raw)
    s3.put_object(Bucket=bucket, Key=backup_key + ".json.sig", Body=signature)


def age_identity(tmp_path, name="age-identity.txt"):
    """A fresh age identity in a 0600 file (pyrage); returns (its path, its public recipient)."""
    from pyrage import x25519

    identity = x25519.Identity.generate()
    path = tmp_path / name
    path.write_text(f"# throwaway test identity\n{identity}\n")
    path.chmod(0o600)
    return str(path), str(identity.to_public())


@pytest.fixture
def restore_login(tmp_path):
    """(user, mongorestore --config file) of a user allowed to write: the server's setup user."""
    secret = tmp_path / "restore.yaml"
    secret.write_text(f"password: {SETUP_PASSWORD}\n")
    secret.chmod(0o600)
    return SETUP_USER, str(secret)


# The drill's own throwaway user of pytest's FerretDB (no roles: FerretDB refuses any; on MongoDB
# it has the built-in restore role, see the mongodb role).
DRILL_USER, DRILL_PASSWORD = "backup-drill", "test-drill-password-not-real"


@pytest.fixture
def drill_config(engine_config, app_db, mongo_admin, tmp_path):
    """The engine config with the drill's login, this test's database only, and a CloudWatch
    namespace of this test's own; returns (path, config)."""
    ensure_user(mongo_admin, "admin", DRILL_USER, DRILL_PASSWORD)
    secret = tmp_path / "mongorestore-drill.yaml"
    write_mongo_config(secret, DRILL_PASSWORD)
    path, config = engine_config
    config = {
        **config,
        "drill_user": DRILL_USER,
        "drill_config": str(secret),
        "databases": [app_db.name],
        "cloudwatch_namespace": f"Tasky/Test-{uuid.uuid4().hex[:8]}",
        "cloudwatch_endpoint_url": CLOUDWATCH_ENDPOINT,
    }
    write_config(path, config)
    yield path, config
    mongo_admin.drop_database(f"drill_{app_db.name}")  # only if a failing test left it


def write_mongo_config(path, password):
    path.write_text(f"password: {password}\n")
    path.chmod(0o600)


def unpack(archive_path, into):
    """`tar -xzf` as a person restoring by hand would; returns the one mongodb-backup-* folder."""
    subprocess.run(["tar", "-xzf", str(archive_path), "-C", str(into)], check=True)
    (top,) = [p for p in Path(into).iterdir() if p.name.startswith("mongodb-backup-")]
    return top


def mongorestore_into(source, source_db, target_db, login):
    """The real mongorestore of one database of a dump into another (--nsInclude/--nsFrom/--nsTo).
    source: an unpacked dump folder, or a gzipped mongodump archive file (*.archive.gz)."""
    user, config = login
    source = str(source)
    read = [f"--archive={source}", "--gzip"] if source.endswith(".archive.gz") else [source]
    cmd = [
        str(MONGORESTORE),
        "--host=127.0.0.1",
        f"--port={MONGODB_PORT}",
        f"--username={user}",
        "--authenticationDatabase=admin",
        f"--config={config}",
        f"--nsInclude={source_db}.*",
        f"--nsFrom={source_db}.*",
        f"--nsTo={target_db}.*",
        *read,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)


def archive_folders(s3, bucket, key):
    """The database folders in the archive at key (mongodb-backup-*/<db>/...)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {name.split("/")[1] for name in tar.getnames() if name.count("/") >= 2}


def write_config(path, config):
    """The engine's JSON configuration, 0600: from a dict, or from the engine's own Settings."""
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    path.write_text(json.dumps(config))
    path.chmod(0o600)


def run_engine(*args):
    """The engine as cron runs it: a separate process; returns CompletedProcess."""
    cmd = [sys.executable, "-m", "tasky_backup", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300, cwd=ROOT / "module_utils")


def keys(s3, bucket, prefix="backups/"):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


CLOUDWATCH_ENDPOINT = f"http://127.0.0.1:{os.environ.get('LAB_CW_PORT', '7491')}"


@pytest.fixture(scope="session")
def cloudwatch():
    """The lab's loopback CloudWatch API (moto's server, started by `make pytest`)."""
    return lab_client("cloudwatch", CLOUDWATCH_ENDPOINT)
