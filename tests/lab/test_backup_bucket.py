"""The backup_bucket role converged for real against Ceph RGW, then probed as an anonymous user.

RGW, not moto: moto lets an anonymous PUT through a read-only policy (see docs/lab.md).
"""

import pytest
from conftest import CLOUDWATCH_ENDPOINT as MOTO_ENDPOINT  # moto's server serves S3 too
from conftest import anonymous, lab_client, run_playbook, task_results


def converge(bucket, **extra):
    rc, out = run_playbook("--limit", "localhost", extra_vars={"backup_bucket_name": bucket, **extra})
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    return out["stats"]["localhost"]


def bucket_exists(s3, bucket):
    return bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.fixture
def public_bucket(s3, bucket_name):
    first = converge(bucket_name)
    assert first["changed"] >= 1
    s3.put_object(Bucket=bucket_name, Key="backups/latest.tar.gz", Body=b"backup bytes")
    s3.put_object(Bucket=bucket_name, Key="private/notes.txt", Body=b"not public")
    return bucket_name


def test_second_converge_changes_nothing(public_bucket):
    assert converge(public_bucket)["changed"] == 0


def test_anonymous_access_is_exactly_read_of_the_backups_prefix(s3, public_bucket):
    b = public_bucket
    got = anonymous("GET", f"{b}/backups/latest.tar.gz")
    assert (got.status_code, got.content) == (200, b"backup bytes")
    listing = anonymous("GET", f"{b}/?list-type=2&prefix=backups/")
    assert listing.status_code == 200 and "<Key>backups/latest.tar.gz</Key>" in listing.text
    assert "private/notes.txt" not in listing.text
    assert anonymous("GET", f"{b}/?list-type=2").status_code == 403
    assert anonymous("GET", f"{b}/?list-type=2&prefix=private/").status_code == 403
    assert anonymous("GET", f"{b}/private/notes.txt").status_code == 403
    assert anonymous("PUT", f"{b}/backups/evil.tar.gz", data=b"x").status_code == 403
    assert anonymous("DELETE", f"{b}/backups/latest.tar.gz").status_code == 403
    # The denied writes changed nothing.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="backups/")["Contents"]]
    assert keys == ["backups/latest.tar.gz"]


def test_versioning_lifecycle_and_public_access_block(s3, public_bucket):
    b = public_bucket
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]}
    assert sorted(rules) == ["tasky-backups-expire-tagged", "tasky-backups-old-versions"]
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    expire = rules["tasky-backups-expire-tagged"]
    assert expire["Filter"]["Tag"] == {"Key": "tasky-retention", "Value": "expire"}
    assert expire["Expiration"]["Days"] == 30 and "NoncurrentVersionExpiration" not in expire
    old = rules["tasky-backups-old-versions"]
    assert old["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    assert old["Expiration"] == {"ExpiredObjectDeleteMarker": True}  # never expires a current version
    assert old["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    block = s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
    # Public read relaxes only what the read-only policy needs.
    assert block["IgnorePublicAcls"] is True
    assert block["BlockPublicPolicy"] is False and block["RestrictPublicBuckets"] is False
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=b)["TagSet"]}
    assert tags["Project"] == "tasky"


def test_turning_public_read_off_makes_the_bucket_private(s3, public_bucket):
    """(No host principals here: RGW 16 refuses any bucket policy while BlockPublicPolicy is on,
    even one that names users only; AWS takes such a policy, which is not public.)"""
    b = public_bucket
    stats = converge(b, backup_bucket_public_read=False, backup_bucket_host_principals=[])
    assert stats["changed"] >= 1
    assert anonymous("GET", f"{b}/backups/latest.tar.gz").status_code == 403
    assert anonymous("GET", f"{b}/?list-type=2&prefix=backups/").status_code == 403
    block = s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
    assert block["BlockPublicPolicy"] is True and block["RestrictPublicBuckets"] is True


def test_check_mode_reports_the_difference_and_creates_nothing(s3, bucket_name):
    rc, out = run_playbook("--limit", "localhost", extra_vars={"backup_bucket_name": bucket_name}, check=True)
    assert rc == 0
    diffs = [r for name, r in task_results(out) if name.endswith("Show what the run would change on the bucket")]
    assert diffs and diffs[0]["changed"] is True
    assert "+versioning: true" in diffs[0]["diff_text"]
    assert not bucket_exists(s3, bucket_name)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"backup_bucket_name": "Bad_Bucket"}, "backup_bucket_name"),
        ({"backup_bucket_name": "ab"}, "backup_bucket_name"),
        ({"backup_bucket_name": "tasky.dotted.backups"}, "has a dot and backup_bucket_public_read is on"),
        ({"backup_bucket_endpoint_url": "", "backup_bucket_region": "mars-north-1"}, "backup_bucket_region"),
        ({"backup_bucket_expiration_days": 0}, "backup_bucket_expiration_days"),
        ({"backup_bucket_noncurrent_expiration_days": -1}, "backup_bucket_noncurrent_expiration_days"),
        ({"backup_bucket_abort_multipart_days": 0}, "backup_bucket_abort_multipart_days"),
        ({"backup_bucket_encryption": "rot13"}, "backup_bucket_encryption"),
        ({"backup_bucket_public_read": "maybe"}, "backup_bucket_public_read"),
        (
            {"backup_bucket_encryption": "aws:kms", "backup_bucket_kms_key_id": "alias/backups"},
            "must be the ARN of a KMS key",
        ),
        (
            {
                "backup_bucket_encryption": "aws:kms",
                "backup_bucket_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k",
            },
            "cannot go together",
        ),
    ],
)
def test_bad_input_fails_before_any_change_naming_the_variable(s3, bucket_name, extra, named):
    extra = {"backup_bucket_name": bucket_name, **extra}
    rc, out = run_playbook("--limit", "localhost", extra_vars=extra)
    assert rc != 0
    failures = [r["msg"] for _, r in task_results(out) if r.get("failed")]
    assert len(failures) == 1 and named in failures[0]
    changed = [name for name, r in task_results(out) if r.get("changed")]
    assert changed == []
    assert not bucket_exists(s3, extra["backup_bucket_name"])


def test_missing_bucket_name_is_refused(s3):
    rc, out = run_playbook("--limit", "localhost", "-e", "backup_bucket_name=")
    assert rc != 0
    failures = [r["msg"] for _, r in task_results(out) if r.get("failed")]
    assert failures and "backup_bucket_name" in failures[0]


def test_encryption_and_ownership_requests_as_aws_gets_them(s3, bucket_name):
    """The lab's RGW has no key back end for SSE-S3, so the request the role sends for default
    encryption, Object Ownership and the full public access block is checked on the lab's
    moto server (its S3 API), which stores what it is sent."""
    moto = lab_client("s3", MOTO_ENDPOINT)
    rc, out = run_playbook(
        "--limit",
        "localhost",
        extra_vars={
            "backup_bucket_name": bucket_name,
            "backup_bucket_endpoint_url": MOTO_ENDPOINT,
            "backup_bucket_encryption": "aws:kms",
            "backup_bucket_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/tasky-test",
            "backup_bucket_object_ownership": "BucketOwnerEnforced",
            "backup_bucket_block_public_acls": True,
            "backup_bucket_public_read": False,  # anonymous requests cannot decrypt SSE-KMS objects
            "backup_bucket_host_principals": [],
        },
    )
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    (rule,) = moto.get_bucket_encryption(Bucket=bucket_name)["ServerSideEncryptionConfiguration"]["Rules"]
    default = rule["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms" and default["KMSMasterKeyID"].endswith("key/tasky-test")
    (ownership,) = moto.get_bucket_ownership_controls(Bucket=bucket_name)["OwnershipControls"]["Rules"]
    assert ownership["ObjectOwnership"] == "BucketOwnerEnforced"
    block = moto.get_public_access_block(Bucket=bucket_name)["PublicAccessBlockConfiguration"]
    assert block["BlockPublicAcls"] is True and block["IgnorePublicAcls"] is True


def test_object_lock_is_turned_on_for_a_new_bucket_and_an_old_one_is_named(s3, bucket_name):
    """Object Lock can only be turned on when S3 creates the bucket: the role creates it so, and
    refuses an existing bucket without it, naming the variable, before changing anything."""
    converge(bucket_name, backup_bucket_object_lock_days=3, backup_bucket_object_lock_mode="COMPLIANCE")
    assert (
        s3.get_object_lock_configuration(Bucket=bucket_name)["ObjectLockConfiguration"]["ObjectLockEnabled"]
        == "Enabled"
    )
    assert (
        "Rule" not in s3.get_object_lock_configuration(Bucket=bucket_name)["ObjectLockConfiguration"]
    )  # no default lock
    again = converge(bucket_name, backup_bucket_object_lock_days=3, backup_bucket_object_lock_mode="COMPLIANCE")
    assert again["changed"] == 0


def test_object_lock_on_an_existing_bucket_without_it_is_refused_by_name(s3, bucket_name):
    converge(bucket_name)
    rc, out = run_playbook(
        "--limit", "localhost", extra_vars={"backup_bucket_name": bucket_name, "backup_bucket_object_lock_days": 3}
    )
    assert rc != 0
    failed = " ".join(r["msg"] for _, r in task_results(out) if r.get("failed"))
    assert "backup_bucket_object_lock_days is 3, but the bucket" in failed and "exists without Object Lock" in failed
    lock = s3.get_bucket_lifecycle_configuration(Bucket=bucket_name)["Rules"]
    assert lock  # the bucket is as the first converge left it


def test_the_hosts_may_not_write_allowed_signers(s3, public_bucket):
    """The bucket policy denies the hosts' user any write of allowed_signers (what vouches for
    their manifests), while it may write backups; the control node's user still may."""
    import boto3
    from conftest import ENDPOINT

    host = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id="TASKYLABHOSTKEY00000",
        aws_secret_access_key="tasky-lab-host-throwaway-secret-key-00000",  # noqa: S106 - the lab's throwaway keys
        region_name="us-east-1",
    )
    host.put_object(Bucket=public_bucket, Key="backups/mongodb-backup-20261203-020000.tar.gz.age", Body=b"ok")
    for key in ("backups/allowed_signers", "other/allowed_signers", "a/b/c/d/allowed_signers", "allowed_signers"):
        with pytest.raises(host.exceptions.ClientError, match="AccessDenied"):
            host.put_object(Bucket=public_bucket, Key=key, Body=b"attacker ssh-ed25519 AAAA\n")
    s3.put_object(Bucket=public_bucket, Key="backups/allowed_signers", Body=b"lab-db1 ssh-ed25519 AAAA\n")
    assert anonymous("GET", f"{public_bucket}/backups/allowed_signers").content == b"lab-db1 ssh-ed25519 AAAA\n"
