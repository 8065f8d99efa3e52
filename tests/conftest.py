"""Shared fixtures: the test lab's real S3 server (Ceph RGW) and real ansible-playbook runs.

`make pytest` starts the test lab's S3 (lab/s3.sh, name tasky-test) and exports its port.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
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


STANDIN = ROOT / "tests/fixtures/mongodb_standin"
sys.path.insert(0, str(ROOT / "module_utils"))


@pytest.fixture
def backup_bucket(s3, bucket_name):
    """A versioned bucket on the lab's RGW, as the backup_bucket role leaves it."""
    s3.create_bucket(Bucket=bucket_name)
    s3.put_bucket_versioning(Bucket=bucket_name, VersioningConfiguration={"Status": "Enabled"})
    return bucket_name


@pytest.fixture
def engine_config(tmp_path, backup_bucket, monkeypatch):
    """Writes a host-style engine config (0600) using the MongoDB stand-ins; returns (path, dict)."""
    secret = tmp_path / "mongodump.yaml"
    secret.write_text("password: test-backup-password-not-real\n")
    secret.chmod(0o600)
    monkeypatch.setenv("TASKY_STANDIN_DATA", str(tmp_path / "standin-data.json"))
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")  # the stand-ins need pymongo's bson
    config = {
        "bucket": backup_bucket,
        "endpoint_url": ENDPOINT,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "mongodump_config": str(secret),
        "mongodump_path": str(STANDIN / "mongodump"),
        "mongorestore_path": str(STANDIN / "mongorestore"),
        "work_dir": str(tmp_path / "work"),
        "lock_file": str(tmp_path / "backup.lock"),
        "log_file": str(tmp_path / "backup.log"),
        "state_file": str(tmp_path / "state.json"),
        "retries": 2,
        "part_size_mib": 5,
    }
    path = tmp_path / "backup.json"
    write_config(path, config)
    return path, config


def write_config(path, config):
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
