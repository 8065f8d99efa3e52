"""testinfra fixtures for the converged lab host and the test lab's S3."""

import os

import boto3
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


@pytest.fixture(scope="session")
def lab_host():
    return testinfra.get_host(f"podman://{HOST_NAME}")


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
