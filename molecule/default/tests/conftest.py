"""testinfra fixtures for the converged lab host, the test lab's S3 and the host's FerretDB."""

import datetime
import json
import os
import subprocess
import uuid
from pathlib import Path

import boto3
import pymongo
import pytest
import testinfra

# The Molecule platform (molecule.yml); podman's own backend is much faster than going
# through an Ansible connection for every command.
HOST_NAME = f"{os.environ.get('LAB_NAME', 'tasky-test')}-mongodb1"
S3_ENDPOINT = f"http://127.0.0.1:{os.environ.get('LAB_S3_PORT', '7490')}"
BUCKET = "tasky-lab-backups"
# The lab's throwaway S3 keys (lab/common.sh); moto takes any.
LAB_ACCESS_KEY = os.environ.get("LAB_ACCESS_KEY", "TASKYLABACCESSKEY000")
LAB_SECRET_KEY = os.environ.get("LAB_SECRET_KEY", "tasky-lab-throwaway-secret-key-0000000000")
# The lab hosts' own S3 user (lab/common.sh): what the bucket policy grants the hosts, no more.
LAB_HOST_ACCESS_KEY = os.environ.get("LAB_HOST_ACCESS_KEY", "TASKYLABHOSTKEY00000")
LAB_HOST_SECRET_KEY = os.environ.get("LAB_HOST_SECRET_KEY", "tasky-lab-host-throwaway-secret-key-00000")
# The host's database (FerretDB, LAB ONLY) on the shared host network, and the lab inventory's
# throwaway users (inventory/local/group_vars/all.yml).
MONGODB_PORT = int(os.environ.get("LAB_MONGODB_PORT", "27117"))
ADMIN = ("admin", "tasky-lab-admin-password-throwaway", "admin")
APP = ("tasky", "tasky-lab-app-password-throwaway", "go-mongodb")
BACKUP = ("backup", "tasky-lab-backup-password-throwaway", "admin")
DRILL = ("backup-drill", "tasky-lab-drill-password-throwaway", "admin")
BOOTSTRAP = ("lab-setup", "tasky-lab-bootstrap-password-throwaway", "admin")
# The control node's builds of MongoDB's tools (lab/tools.sh), the same as on the host.
TOOLS_BIN = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / ".lab/tools/bin"


def run_ansible(cmd, timeout=900):
    """ansible or ansible-playbook from the project directory, its output as JSON
    (ansible.posix.json) on stdout; returns the finished process."""
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=os.environ["MOLECULE_PROJECT_DIRECTORY"],
        timeout=timeout,
    )


def module_on_host(args=None):
    """`ansible mongodb -b -m tasky_backup [-a ARGS]`, as an operator runs it; the host's result."""
    cmd = ["ansible", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "mongodb", "-b", "-m", "tasky_backup"]
    proc = run_ansible([*cmd, "-a", args] if args else cmd)
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][HOST_NAME]


def mongo_client(login=None):
    user, password, auth_db = login or (None, None, "admin")
    return pymongo.MongoClient(
        host="127.0.0.1",
        port=MONGODB_PORT,
        username=user,
        password=password,
        authSource=auth_db,
        directConnection=True,
        serverSelectionTimeoutMS=5000,
    )


@pytest.fixture(scope="session")
def lab_host():
    return testinfra.get_host(f"podman://{HOST_NAME}")


@pytest.fixture(scope="session")
def mongo_admin():
    client = mongo_client(ADMIN)
    yield client
    client.close()


@pytest.fixture(scope="session")
def s3():
    return boto3.client(
        "s3",
        endpoint_url=S3_ENDPOINT,
        aws_access_key_id=LAB_ACCESS_KEY,
        aws_secret_access_key=LAB_SECRET_KEY,
        region_name="us-east-1",
    )


@pytest.fixture(scope="session")
def cloudwatch():
    """The test lab's loopback CloudWatch API (moto), which the converged host reports to."""
    return boto3.client(
        "cloudwatch",
        endpoint_url=f"http://127.0.0.1:{os.environ.get('LAB_CW_PORT', '7491')}",
        aws_access_key_id=LAB_ACCESS_KEY,
        aws_secret_access_key=LAB_SECRET_KEY,
        region_name="us-east-1",
    )


@pytest.fixture(scope="session")
def seeded():
    """Documents the application writes: a collection of its database (go-mongodb) written
    through the host's server as the application user, with an index. Dropped afterwards."""
    name = f"verify_{uuid.uuid4().hex[:8]}"
    client = mongo_client(APP)
    collection = client[APP[2]][name]
    collection.insert_many(
        [
            {
                "_id": i,
                "name": f"task {i}",
                "done": i % 2 == 0,
                "due": datetime.datetime(2025, 1, 1 + i % 28),
                "tags": ["a"] * (i % 3),
            }
            for i in range(50)
        ]
    )
    collection.create_index("name")
    yield collection
    collection.drop()
    client.close()
