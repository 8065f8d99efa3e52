"""s3/client.py: every request a run makes names the bucket's owner when it is known, so a bucket
of the same name re-created in another account is refused by S3 rather than sent the dumps.
Checked with botocore's own Stubber (the parameters as they would be sent; no network)."""

import pytest
from botocore.stub import Stubber
from tasky_backup.s3.client import s3_client

OWNER = "123456789012"


def stubbed(settings_in, owner):
    settings = settings_in(expected_bucket_owner=owner, access_key="AKIAUNITTEST", secret_key="unit-test-not-real")  # noqa: S106 - not a real key
    client = s3_client(settings)
    return client, Stubber(client)


def test_every_operation_that_takes_it_names_the_owner(settings_in):
    client, stub = stubbed(settings_in, OWNER)
    stub.add_response("head_object", {}, {"Bucket": "b", "Key": "k", "ExpectedBucketOwner": OWNER})
    stub.add_response("list_objects_v2", {}, {"Bucket": "b", "Prefix": "backups/", "ExpectedBucketOwner": OWNER})
    copy = {"Bucket": "b", "Key": "k2", "CopySource": {"Bucket": "b", "Key": "k"}}
    stub.add_response("copy_object", {}, {**copy, "ExpectedBucketOwner": OWNER, "ExpectedSourceBucketOwner": OWNER})
    with stub:
        client.head_object(Bucket="b", Key="k")
        client.list_objects_v2(Bucket="b", Prefix="backups/")
        client.copy_object(**copy)
    stub.assert_no_pending_responses()


def test_without_an_owner_nothing_is_added(settings_in):
    client, stub = stubbed(settings_in, "")
    stub.add_response("head_object", {}, {"Bucket": "b", "Key": "k"})
    with stub:
        client.head_object(Bucket="b", Key="k")


def test_an_owner_that_is_not_an_account_id_is_refused(settings_in):
    from tasky_backup.base.errors import BackupError

    with pytest.raises(BackupError, match="expected_bucket_owner must be empty or a 12-digit AWS account id"):
        settings_in(expected_bucket_owner="tasky")
