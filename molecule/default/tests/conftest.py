"""testinfra fixtures for the converged lab host and the test lab's S3."""

import os

import boto3
import pytest
import testinfra

# The Molecule platform (molecule.yml); podman's own backend is much faster than going
# through an Ansible connection for every command.
HOST_NAME = "tasky-test-mongodb1"
S3_ENDPOINT = f"http://127.0.0.1:{os.environ.get('LAB_S3_PORT', '7490')}"
BUCKET = "tasky-lab-backups"


@pytest.fixture(scope="session")
def lab_host():
    return testinfra.get_host(f"podman://{HOST_NAME}")


@pytest.fixture(scope="session")
def s3():
    return boto3.client(
        "s3",
        endpoint_url=S3_ENDPOINT,
        aws_access_key_id=os.environ.get("LAB_ACCESS_KEY", "TASKYLABACCESSKEY000"),
        aws_secret_access_key=os.environ.get("LAB_SECRET_KEY", "tasky-lab-throwaway-secret-key-0000000000"),
        region_name="us-east-1",
    )
