"""The team's catalogue (backups/index.json, backups/index.html), the dump facts behind it and the
listing of backups, against the lab's real S3 server (Ceph RGW).

The backups are real: documents written through pytest's FerretDB as the application user, then
the engine's own take_backup with MongoDB's real mongodump at chosen times and the job's catalogue
hook (tests/catalogue_lab.py); the catalogue is then built from the bucket."""

import json
import subprocess
import uuid

import bson
import pytest
from botocore.exceptions import ClientError
from catalogue_lab import add_todos, add_users, ago, lab_config, read_json, real_backup, tags_of
from conftest import BIN, CLOUDWATCH_ENDPOINT, ROOT, TEST_HOST_ALIAS, ansible_json, run_engine, write_config
from tasky_backup.actions import perform
from tasky_backup.mongo.facts import count_documents, dump_facts
from tasky_backup.mongo.tools import run_mongodump, tool_version
from tasky_backup.ops import catalogue as catalogue_module
from tasky_backup.ops.catalogue import write_catalogue
from tasky_backup.ops.listing import list_backups
from tasky_backup.s3.keys import names_for
from tasky_backup.s3.objects import EXPIRE_TAG
from test_engine_metrics import datapoints

HOST = TEST_HOST_ALIAS  # the public name a real run records (never socket.gethostname())


def seed_app(db):
    """The application's two collections: 25 todos with the index n_1, 2 users."""
    add_todos(db, 25)
    add_users(db, 2)


# --- dump facts: read from the dump folder itself ----------------------------------------------


def test_dump_facts_count_documents_and_name_indexes_from_the_dump_folder(
    engine_config, app_db, fresh_db_name, mongo_admin, tmp_path
):
    """A folder the real mongodump wrote (two databases and admin), with the two things the lab's
    FerretDB cannot give it added as mongodump writes them: a view's metadata.json (FerretDB has
    no views) and an oplog.bson (no oplog)."""
    seed_app(app_db)
    app_db.todos.create_index("title")
    app_db["a/b"].insert_many([{"_id": n} for n in range(3)])
    mongo_admin[fresh_db_name].create_collection("empty")
    config = lab_config(engine_config, app_db)
    dump = tmp_path / "mongodb-backup-20261125-020000"
    run_mongodump(config, str(dump), [app_db.name, fresh_db_name, "admin"])
    assert (dump / "admin").is_dir() and (dump / app_db.name / "a%2Fb.bson").is_file()  # mongodump escapes "/"
    (dump / "oplog.bson").write_bytes(bson.encode({"ts": 1}))  # not a database
    view = {"indexes": [], "collectionName": "open_todos", "type": "view", "options": {"viewOn": "todos"}}
    (dump / app_db.name / "open_todos.metadata.json").write_text(json.dumps(view))

    facts = dump_facts(
        str(dump), {"mongodump": tool_version(config.mongodump_path)}, "db-1", leave_out=("admin", "config", "local")
    )

    assert facts["problems"] == []
    assert facts["host"] == "db-1"
    assert facts["tools"] == {"mongodump": "mongodump version: 100.11.0"}
    assert set(facts["databases"]) == {app_db.name, fresh_db_name}  # admin is never in the archive
    app = facts["databases"][app_db.name]
    assert app["todos"] == {"documents": 25, "indexes": ["_id_", "n_1", "title_1"]}
    assert app["users"] == {"documents": 2, "indexes": ["_id_"]}
    assert app["a/b"]["documents"] == 3  # the real name, from metadata.json, not the escaped file name
    assert app["open_todos"] == {"documents": None, "indexes": [], "type": "view"}
    assert facts["databases"][fresh_db_name] == {"empty": {"documents": 0, "indexes": ["_id_"]}}
    # The count without decoding agrees with a full decode.
    body = (dump / app_db.name / "todos.bson").read_bytes()
    assert count_documents(dump / app_db.name / "todos.bson") == len(bson.decode_all(body)) == 25


def test_a_truncated_bson_is_recorded_as_a_problem_not_raised(engine_config, app_db, tmp_path):
    seed_app(app_db)
    config = lab_config(engine_config, app_db)
    dump = tmp_path / "mongodb-backup-20261125-020000"
    run_mongodump(config, str(dump), [app_db.name])
    path = dump / app_db.name / "todos.bson"
    path.write_bytes(path.read_bytes()[:-7])
    facts = dump_facts(str(dump), {"mongodump": tool_version(config.mongodump_path)}, "db-1")
    assert facts["databases"][app_db.name]["todos"]["documents"] is None
    assert facts["databases"][app_db.name]["users"]["documents"] == 2
    (problem,) = facts["problems"]
    assert problem.startswith(f"{app_db.name}/todos.bson: document 25 at byte")


# --- the catalogue, built from the bucket ------------------------------------------------------


@pytest.fixture
def two_backups(s3, engine_config, app_db):
    """Two real backups two days apart, of this test's database (app_db): 10 todos and no index,
    then 25 todos with the index n_1 and 2 users; returns (config, older, newer)."""
    config = lab_config(engine_config, app_db)
    older_at, newer_at = ago(days=2, hours=1), ago(hours=3)
    add_todos(app_db, 10, index=False)
    older = real_backup(config, older_at, s3)
    add_todos(app_db, 15)
    add_users(app_db, 2)
    newer = real_backup(config, newer_at, s3)
    older["daily"], newer["daily"] = (names_for("backups/", at, "tar.gz").daily_key for at in (older_at, newer_at))
    newer["created"] = newer_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return config, older, newer


def test_a_backup_writes_its_sidecar_and_the_catalogue(s3, two_backups, app_db):
    config, older, newer = two_backups
    bucket, db = config.bucket, app_db.name
    assert "catalogue_error" not in newer and "facts" not in newer
    assert newer["catalogue"] == f"{config.endpoint_url}/{bucket}/backups/index.html"

    sidecar = read_json(s3, bucket, newer["key"] + ".json")
    assert sidecar["sha256"] == newer["sha256"] and sidecar["size"] == newer["size"]
    assert sidecar["databases"][db]["todos"] == {"documents": 25, "indexes": ["_id_", "n_1"]}
    # latest's manifest is kept as long as latest (untagged); the one before expires with its backup
    assert tags_of(s3, bucket, newer["key"] + ".json") == {}
    assert tags_of(s3, bucket, older["key"] + ".json") == {EXPIRE_TAG["Key"]: EXPIRE_TAG["Value"]}

    index = read_json(s3, bucket, "backups/index.json")
    assert [b["key"] for b in index["backups"]] == [newer["key"], older["key"]]  # newest first
    assert index["newest"] == newer["key"]
    entry = index["backups"][0]
    head = s3.head_object(Bucket=bucket, Key=newer["key"])
    assert entry["sha256"] == head["Metadata"]["sha256"] == newer["sha256"]
    assert entry["size"] == head["ContentLength"]
    assert entry["created"] == newer["created"]
    assert entry["host"] == HOST and entry["tools"] == {"mongodump": "mongodump version: 100.11.0"}
    assert entry["databases"][db]["users"] == {"documents": 2, "indexes": ["_id_"]}
    assert index["backups"][1]["databases"] == {db: {"todos": {"documents": 10, "indexes": ["_id_"]}}}

    copies = {a["key"]: a["copies"] for a in index["aliases"]}
    assert copies == {"backups/latest.tar.gz": newer["key"], newer["daily"]: newer["key"], older["daily"]: older["key"]}
    assert all(a["copies_present"] for a in index["aliases"])
    assert {a["sha256"] for a in index["aliases"] if a["copies"] == newer["key"]} == {newer["sha256"]}

    for name, content_type in (("index.json", "application/json"), ("index.html", "text/html; charset=utf-8")):
        head = s3.head_object(Bucket=bucket, Key=f"backups/{name}")
        assert (head["ContentType"], head["CacheControl"]) == (content_type, "max-age=60")
        assert tags_of(s3, bucket, f"backups/{name}") == {}  # never expires by the lifecycle


def test_rebuilt_catalogue_drops_what_the_lifecycle_removed(s3, two_backups):
    config, older, newer = two_backups
    bucket = config.bucket
    # The lifecycle expires the older backup and its daily copy (a delete marker on a versioned
    # bucket), and, in this test, not its sidecar: an orphan sidecar lists nothing.
    s3.delete_object(Bucket=bucket, Key=older["key"])
    s3.delete_object(Bucket=bucket, Key=older["daily"])
    written = write_catalogue(config, client=s3).as_dict()
    assert written["counts"] == {"backups": 1, "aliases": 2} and written["newest"] == newer["key"]
    index = read_json(s3, bucket, "backups/index.json")
    assert [b["key"] for b in index["backups"]] == [newer["key"]]
    assert older["key"] not in json.dumps(index)
    page = s3.get_object(Bucket=bucket, Key="backups/index.html")["Body"].read().decode()
    assert older["name"] not in page and newer["name"] in page


def test_an_alias_whose_backup_expired_says_so(s3, two_backups):
    config, _older, newer = two_backups
    s3.delete_object(Bucket=config.bucket, Key=newer["key"])
    write_catalogue(config, client=s3).as_dict()
    index = read_json(s3, config.bucket, "backups/index.json")
    (latest,) = [a for a in index["aliases"] if a["name"] == "latest.tar.gz"]
    assert latest["copies"] == newer["key"] and latest["copies_present"] is False
    page = s3.get_object(Bucket=config.bucket, Key="backups/index.html")["Body"].read().decode()
    assert f'{newer["name"]}.tar.gz <span class="muted">(expired)</span>' in page


def test_a_damaged_sidecar_costs_its_backup_the_facts_and_nothing_more(s3, two_backups):
    config, older, newer = two_backups
    bucket = config.bucket
    s3.put_object(Bucket=bucket, Key=older["key"] + ".json", Body=b'{"databases": ["<b>not this shape</b>"]}')
    s3.put_object(Bucket=bucket, Key=newer["key"] + ".json", Body=b"not json")
    assert write_catalogue(config, client=s3).as_dict()["counts"] == {"backups": 2, "aliases": 3}
    index = read_json(s3, bucket, "backups/index.json")
    assert [(b["facts_recorded"], b["databases"]) for b in index["backups"]] == [(False, None), (False, None)]
    assert [b["sha256"] for b in index["backups"]] == [newer["sha256"], older["sha256"]]


def test_list_shows_backups_and_aliases_only(s3, two_backups, tmp_path):
    config, older, newer = two_backups
    bucket = config.bucket
    for key in ("backups/notes.txt", "backups/old/mongodb-backup-20200101-000000.tar.gz", "backups/latest.tar.gz.bak"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"not a backup")
    listed = list_backups(config, client=s3).backups
    expected = [newer["key"], older["key"], "backups/latest.tar.gz", newer["daily"], older["daily"]]
    assert [b["key"] for b in listed] == expected
    assert [b["kind"] for b in listed] == ["backup", "backup", "alias", "alias", "alias"]
    sha = {newer["key"]: newer["sha256"], older["key"]: older["sha256"]}
    for item in listed:
        source = item["key"] if item["kind"] == "backup" else item["copies"]
        assert item["sha256"] == sha[source]
    assert [b["copies"] for b in listed[2:]] == [newer["key"], newer["key"], older["key"]]

    # The same through the command line cron's host runs.
    path = tmp_path / "backup.json"
    write_config(path, config)
    proc = run_engine("list", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    assert [b["key"] for b in json.loads(proc.stdout)] == [b["key"] for b in listed]


def test_module_and_cli_rebuild_the_catalogue_on_demand(s3, two_backups, tmp_path):
    config, _older, newer = two_backups
    bucket = config.bucket
    s3.delete_object(Bucket=bucket, Key="backups/index.html")
    path = tmp_path / "backup.json"
    write_config(path, config)

    checked = adhoc({"config": str(path), "state": "catalogue"}, check=True)
    assert checked["changed"] is True and "would catalogue" in checked["msg"]
    assert "backups/index.html" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]

    result = adhoc({"config": str(path), "state": "catalogue"})
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True and result["url"].endswith(f"/{bucket}/backups/index.html")
    assert result["counts"] == {"backups": 2, "aliases": 3} and result["newest"] == newer["key"]
    listed = adhoc({"config": str(path), "state": "list"})
    assert len(listed["backups"]) == 5 and listed["backups"][2]["copies"] == newer["key"]

    proc = run_engine("catalogue", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["keys"] == ["backups/index.json", "backups/index.html"]


def test_the_module_documentation_renders():
    proc = subprocess.run(
        [str(BIN / "ansible-doc"), "-M", str(ROOT / "library"), "tasky_backup"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "catalogue" in proc.stdout and "copies" in proc.stdout and "catalogue_error" in proc.stdout


def test_catalogue_of_a_prefix_with_no_backup(s3, engine_config, app_db):
    config = lab_config(engine_config, app_db)
    backup_bucket = config.bucket
    written = write_catalogue(config, client=s3).as_dict()
    assert written["newest"] is None and written["counts"] == {"backups": 0, "aliases": 0}
    page = s3.get_object(Bucket=backup_bucket, Key="backups/index.html")["Body"].read().decode()
    assert "No backup in this bucket yet" in page


# --- a catalogue that cannot be written never fails the backup ---------------------------------


class PutFails:
    """The lab's S3 client, except that every PutObject is refused."""

    def __init__(self, client):
        self.client = client

    def put_object(self, **_kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no put for you"}}, "PutObject")

    def __getattr__(self, name):
        return getattr(self.client, name)


@pytest.mark.parametrize("put_fails", [True, False], ids=["put-fails", "put-works"])
def test_the_job_hook_never_fails_the_backup_and_counts_catalogue_failures(
    s3, cloudwatch, engine_config, app_db, tmp_path, monkeypatch, put_fails
):
    """A whole run through the action table (perform("backup"): the real backup, then the hook, state file,
    metrics, summary), with every PutObject of the catalogue refused or not."""
    namespace = f"Tasky/Test-{uuid.uuid4().hex[:8]}"
    config = lab_config(
        engine_config, app_db, cloudwatch_namespace=namespace, cloudwatch_endpoint_url=CLOUDWATCH_ENDPOINT
    )
    backup_bucket = config.bucket
    seed_app(app_db)
    if put_fails:
        monkeypatch.setattr(catalogue_module, "s3_client", lambda _config: PutFails(s3))
    result = perform("backup", config).result

    assert result["status"] == "success"
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["last_success"]["key"] == result["key"]
    log = (tmp_path / "backup.log").read_text()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=backup_bucket)["Contents"]]
    # Maximum: each value goes out per bucket and per bucket and host (metrics.py).
    failures = datapoints(cloudwatch, namespace, "CatalogueFailures", backup_bucket, "Maximum")
    assert datapoints(cloudwatch, namespace, "BackupSuccess", backup_bucket, "Maximum") == [1.0]
    if put_fails:
        assert "AccessDenied" in result["catalogue_error"] and "catalogue" not in result
        assert "the catalogue was not updated (the backup itself is good)" in log
        assert "backups/index.html" not in keys
        assert result["key"] + ".json" in keys  # the signed manifest is written with the backup, not after it
        assert failures == [1.0]
    else:
        assert "catalogue_error" not in result and result["catalogue"].endswith("backups/index.html")
        assert "backups/index.html" in keys
        manifest = read_json(s3, backup_bucket, result["key"] + ".json")
        assert manifest["databases"][app_db.name]["todos"]["documents"] == 25
        assert failures == [0.0]
    assert "facts" not in state["last_success"] and "SUMMARY" in log


def adhoc(module_args, check=False):
    """`ansible localhost -m tasky_backup -a ARGS`; returns the module's result."""
    cmd = [str(BIN / "ansible"), "localhost", "-i", str(ROOT / "inventory/local"), "-m", "tasky_backup"]
    cmd += ["-a", json.dumps(module_args)] + (["--check"] if check else [])
    _rc, out = ansible_json(cmd)
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]
