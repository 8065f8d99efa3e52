"""Backups for the catalogue's tests, written to the lab's RGW as a backup run writes them, without
a MongoDB server: a dump folder shaped like mongodump's (real BSON documents, metadata.json with
the indexes), the engine's own streaming upload (verified, sha256 and size in the metadata,
tagged to expire) and server-side copies to daily-* and latest, then the job's catalogue hook.

The end-to-end test of a real run (real mongodump, FerretDB) lands with the real-tools lab.
"""

import datetime
import json

import bson
from conftest import ACCESS_KEY, ENDPOINT, SECRET_KEY
from tasky_backup.backup import publish, upload_archive
from tasky_backup.catalogue import catalogue_after_backup
from tasky_backup.config import check_config
from tasky_backup.dump import dump_summary
from tasky_backup.facts import dump_facts
from tasky_backup.store import Writes, names_for

UTC = datetime.timezone.utc
FAKE_MONGODUMP = "#!/bin/sh\necho 'mongodump version: 100.11.0'\necho 'git version: test'\n"


def lab_config(tmp_path, bucket, **extra):
    """An engine config of the lab's RGW, checked like the host's."""
    return check_config(
        {
            "bucket": bucket,
            "endpoint_url": ENDPOINT,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "work_dir": str(tmp_path / "work"),
            "lock_file": str(tmp_path / "backup.lock"),
            "log_file": str(tmp_path / "backup.log"),
            "state_file": str(tmp_path / "state.json"),
            "mongodump_path": str(fake_mongodump(tmp_path)),
            "retries": 2,
            "part_size_mib": 5,
            "s3_patience_s": 0,
            **extra,
        }
    )


def fake_mongodump(tmp_path):
    """Only `mongodump --version` is asked of it here (the dump folder is written by make_dump)."""
    path = tmp_path / "mongodump"
    if not path.exists():
        path.write_text(FAKE_MONGODUMP)
        path.chmod(0o755)
    return path


def make_dump(root, name, databases):
    """A folder as mongodump --out writes it: <db>/<collection>.bson (BSON documents back to back)
    and <db>/<collection>.metadata.json (extended JSON, indexes[].name, collectionName).
    databases: {db: {collection: (documents, [extra index names])}}."""
    dump_dir = root / name
    for db, collections in databases.items():
        (dump_dir / db).mkdir(parents=True)
        for collection, (documents, extra_indexes) in collections.items():
            stem = collection.replace("/", "%2F")  # mongodump escapes what a file name cannot hold
            body = b"".join(
                bson.encode({"_id": n, "title": f"document {n}", "pad": "x" * (n % 50)}) for n in range(documents)
            )
            (dump_dir / db / f"{stem}.bson").write_bytes(body)
            indexes = [{"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"}]
            indexes += [
                {"v": {"$numberInt": "2"}, "key": {name: {"$numberInt": "1"}}, "name": name} for name in extra_indexes
            ]
            meta = {"indexes": indexes, "uuid": "00" * 16, "collectionName": collection, "type": "collection"}
            (dump_dir / db / f"{stem}.metadata.json").write_text(json.dumps(meta))
    return dump_dir


def fake_backup(config, client, tmp_path, when, databases, host="db-test-1"):
    """What one successful run writes to S3 (the timestamped archive, daily-*, latest, then the
    sidecar and the catalogue through the job's hook); returns the run's result."""
    names = names_for(when)
    key = f"{config['prefix']}{names['name']}.tar.gz"
    dump_dir = make_dump(tmp_path / f"dump-{names['name']}", names["name"], databases)
    _files, dump_bytes = dump_summary(dump_dir)
    metadata = {"tasky-backup": names["name"], "dump-bytes": str(dump_bytes), "deployment": host, "host": host}
    written = Writes(client, config["bucket"], config["s3_patience_s"])
    sha256, size, version = upload_archive(config, client, key, str(dump_dir), dump_bytes, metadata, written, ())
    publish(config, client, key, version, names, metadata, written)
    result = {
        "status": "success",
        "name": names["name"],
        "key": key,
        "sha256": sha256,
        "size": size,
        "dump_bytes": dump_bytes,
        "host": host,
        "dump_facts": dump_facts(str(dump_dir), config["mongodump_path"], host),
    }
    return catalogue_after_backup(config, result, client)


def ago(days=0, hours=0, minutes=0):
    """A run's start time that long ago (UTC, whole seconds)."""
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    return now - datetime.timedelta(days=days, hours=hours, minutes=minutes)


def read_json(client, bucket, key):
    return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def tags_of(client, bucket, key):
    return {t["Key"]: t["Value"] for t in client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}
