"""The backup_bucket role's AWS contracts that RGW cannot show, and the SSM transfer bucket.

- ARNs carry the partition of the region (aws-cn, aws-us-gov): converged on moto's server, which
  stores the policy it is sent, in a cn- and a us-gov- region.
- Account-level S3 Block Public Access: RGW serves no STS or S3 Control, moto's server does. Each
  test runs in an account of its own (moto gives an assumed role's keys that account), so the
  account settings it makes touch no other test.
- The SSM connection's transfer bucket, converged for real on RGW.
"""

import json
import random

import boto3
import pytest
import yaml
from conftest import BIN, ROOT, anonymous, ansible_json, remove_bucket, run_playbook, task_results
from conftest import CLOUDWATCH_ENDPOINT as MOTO_ENDPOINT  # moto's server serves S3, STS, S3 Control too


def failures(out):
    return [r["msg"] for _, r in task_results(out) if r.get("failed")]


def changed_tasks(out):
    return [name for name, r in task_results(out) if r.get("changed")]


class MotoAccount:
    """Keys of a fresh moto account (an assumed role in it), with its S3 and S3 Control clients."""

    def __init__(self):
        self.id = str(random.randint(10**11, 10**12 - 1))  # noqa: S311 - an account id for a test, no secret
        sts = self._client("sts", "tasky-test", "tasky-test")
        role = f"arn:aws:iam::{self.id}:role/tasky-test"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="tasky-test")["Credentials"]
        self.access_key, self.secret_key = creds["AccessKeyId"], creds["SecretAccessKey"]

    @staticmethod
    def _client(service, access_key, secret_key, region="us-east-1"):
        return boto3.client(
            service,
            endpoint_url=MOTO_ENDPOINT,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
        )

    def client(self, service, region="us-east-1"):
        client = self._client(service, self.access_key, self.secret_key, region)
        if service == "s3control":  # see the role's module: no <account>. prefix on loopback
            strip = lambda request, **_: setattr(request, "url", request.url.replace(f"//{self.id}.", "//", 1))  # noqa: E731
            client.meta.events.register("before-sign.s3-control", strip)
        return client

    def block_public_access(self, **settings):
        config = {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }
        self.client("s3control").put_public_access_block(
            AccountId=self.id, PublicAccessBlockConfiguration={**config, **settings}
        )

    def converge(self, bucket, region="us-east-1", check=False, **extra):
        return run_playbook(
            "--limit",
            "localhost",
            check=check,
            extra_vars={
                "backup_bucket_name": bucket,
                "backup_bucket_endpoint_url": MOTO_ENDPOINT,
                "backup_bucket_region": region,
                "backup_bucket_access_key": self.access_key,
                "backup_bucket_secret_key": self.secret_key,
                "backup_bucket_account_public_access_check": True,
                **extra,
            },
        )


@pytest.fixture
def moto_account(cloudwatch):  # the cloudwatch fixture fails plainly when moto's server is not up
    return MotoAccount()


@pytest.fixture
def moto_bucket(moto_account, bucket_name):
    yield bucket_name
    for region in ("us-east-1", "cn-north-1", "us-gov-west-1"):
        remove_bucket(moto_account.client("s3", region), bucket_name)


@pytest.mark.parametrize(
    ("region", "partition"),
    [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("eu-west-1", "aws")],
)
def test_policy_arns_carry_the_partition_of_the_region(moto_account, moto_bucket, region, partition):
    rc, out = moto_account.converge(moto_bucket, region=region, backup_bucket_public_read=True)
    assert rc == 0, failures(out)
    s3 = moto_account.client("s3", region)
    policy = json.loads(s3.get_bucket_policy(Bucket=moto_bucket)["Policy"])
    by_sid = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert by_sid["PublicReadBackups"] == f"arn:{partition}:s3:::{moto_bucket}/backups/*"
    assert by_sid["PublicListBackupsPrefixOnly"] == f"arn:{partition}:s3:::{moto_bucket}"
    # Every statement (the lab's host grants too) names the bucket in the region's partition.
    every = [
        r for s in policy["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert every and all(r.startswith(f"arn:{partition}:s3:::{moto_bucket}") for r in every)
    report = next(r["msg"] for name, r in task_results(out) if name.endswith("Report the bucket and its public URLs"))
    assert f"(region {region}, partition {partition})" in report[0]


def test_kms_key_of_another_partition_is_refused(moto_account, moto_bucket):
    rc, out = moto_account.converge(
        moto_bucket,
        region="cn-north-1",
        backup_bucket_encryption="aws:kms",
        backup_bucket_kms_key_id="arn:aws:kms:us-east-1:123456789012:key/tasky-test",
    )
    assert rc != 0
    (msg,) = failures(out)
    assert "backup_bucket_kms_key_id" in msg and "arn:aws-cn:kms:" in msg
    assert changed_tasks(out) == []


def test_account_blocking_public_policies_fails_before_any_change(moto_account, moto_bucket):
    moto_account.block_public_access()
    rc, out = moto_account.converge(moto_bucket, backup_bucket_public_read=True)
    assert rc != 0
    (msg,) = failures(out)
    assert "backup_bucket_public_read is true" in msg and moto_account.id in msg
    assert "BlockPublicPolicy=true, RestrictPublicBuckets=true" in msg
    assert "put-public-access-block" in msg and "backup_bucket_public_read: false" in msg
    assert changed_tasks(out) == []
    assert moto_bucket not in [b["Name"] for b in moto_account.client("s3").list_buckets()["Buckets"]]


def test_account_restricting_public_buckets_only_is_refused_too(moto_account, moto_bucket):
    moto_account.block_public_access(BlockPublicPolicy=False)
    rc, out = moto_account.converge(moto_bucket, backup_bucket_public_read=True, check=True)
    assert rc != 0
    (msg,) = failures(out)
    assert "(S3 Block Public Access for the account: RestrictPublicBuckets=true)" in msg


def test_account_allowing_public_policies_converges(moto_account, moto_bucket):
    moto_account.block_public_access(BlockPublicPolicy=False, RestrictPublicBuckets=False)
    rc, out = moto_account.converge(moto_bucket, backup_bucket_public_read=True)
    assert rc == 0, failures(out)
    assert moto_account.client("s3").get_bucket_policy(Bucket=moto_bucket)["Policy"]


def test_private_bucket_skips_the_account_check(moto_account, moto_bucket):
    moto_account.block_public_access()
    rc, out = moto_account.converge(moto_bucket, backup_bucket_public_read=False)
    assert rc == 0, failures(out)
    names = [name for name, r in task_results(out) if not r.get("skipped")]
    assert not any("Block Public Access" in name for name in names)


# The SSM transfer bucket, on RGW.


@pytest.fixture
def ssm_bucket(s3, bucket_name):
    name = f"{bucket_name}-ssm"
    yield name
    remove_bucket(s3, name)


def converge_with_ssm(bucket, ssm, **extra):
    extra = {"backup_bucket_name": bucket, "backup_bucket_ssm_transfer_bucket": ssm, **extra}
    rc, out = run_playbook("--limit", "localhost", extra_vars=extra)
    assert rc == 0, failures(out)
    return out


def test_ssm_transfer_bucket_is_private_unversioned_and_expires_everything(s3, bucket_name, ssm_bucket):
    first = converge_with_ssm(bucket_name, ssm_bucket)
    assert first["stats"]["localhost"]["changed"] >= 1
    assert converge_with_ssm(bucket_name, ssm_bucket)["stats"]["localhost"]["changed"] == 0
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=ssm_bucket)["Rules"]
    assert rule["ID"] == "tasky-ssm-transfer-expiry" and rule["Status"] == "Enabled"
    assert rule.get("Filter", {}).get("Prefix", rule.get("Prefix")) == ""
    assert rule["Expiration"]["Days"] == 1
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert s3.get_bucket_versioning(Bucket=ssm_bucket).get("Status") is None
    block = s3.get_public_access_block(Bucket=ssm_bucket)["PublicAccessBlockConfiguration"]
    # The backup bucket is public in the lab; the transfer bucket is not (BlockPublicAcls is the
    # lab's RGW exception, as for the backup bucket).
    assert (block["IgnorePublicAcls"], block["BlockPublicPolicy"], block["RestrictPublicBuckets"]) == (True, True, True)
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=ssm_bucket)
    s3.put_object(Bucket=ssm_bucket, Key="i-0123456789abcdef0/module.py", Body=b"secret module args")
    assert anonymous("GET", f"{ssm_bucket}/i-0123456789abcdef0/module.py").status_code == 403
    assert anonymous("GET", f"{ssm_bucket}/?list-type=2").status_code == 403


def test_ssm_transfer_expiry_follows_the_variable(s3, bucket_name, ssm_bucket):
    converge_with_ssm(bucket_name, ssm_bucket)
    out = converge_with_ssm(bucket_name, ssm_bucket, backup_bucket_ssm_transfer_expiration_days=3)
    assert out["stats"]["localhost"]["changed"] >= 1
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=ssm_bucket)["Rules"]
    assert rule["Expiration"]["Days"] == 3 and rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 3


def test_ssm_transfer_encryption_request_as_aws_gets_it(moto_account, moto_bucket):
    """RGW has no key back end: the transfer bucket's default encryption is checked on moto."""
    ssm = f"{moto_bucket}-ssm"
    try:
        rc, out = moto_account.converge(
            moto_bucket,
            backup_bucket_ssm_transfer_bucket=ssm,
            backup_bucket_encryption="AES256",
            backup_bucket_object_ownership="BucketOwnerEnforced",
            backup_bucket_block_public_acls=True,
        )
        assert rc == 0, failures(out)
        s3 = moto_account.client("s3")
        (rule,) = s3.get_bucket_encryption(Bucket=ssm)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=ssm)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
    finally:
        remove_bucket(moto_account.client("s3"), ssm)


def test_ssm_transfer_check_mode_reports_and_creates_nothing(s3, bucket_name, ssm_bucket):
    rc, out = run_playbook(
        "--limit",
        "localhost",
        check=True,
        extra_vars={"backup_bucket_name": bucket_name, "backup_bucket_ssm_transfer_bucket": ssm_bucket},
    )
    assert rc == 0, failures(out)
    (diff,) = [
        r for name, r in task_results(out) if name.endswith("Show what the run would change on the SSM transfer bucket")
    ]
    assert "+ssm_transfer_bucket_exists: true" in diff["diff_text"]
    assert ssm_bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"backup_bucket_ssm_transfer_bucket": "Bad_Bucket"}, "backup_bucket_ssm_transfer_bucket"),
        ({"backup_bucket_ssm_transfer_bucket": "SAME"}, "backup_bucket_ssm_transfer_bucket"),
        (
            {"backup_bucket_ssm_transfer_bucket": "tasky-ok-ssm", "backup_bucket_ssm_transfer_expiration_days": 0},
            "backup_bucket_ssm_transfer_expiration_days",
        ),
    ],
    ids=["bad-name", "same-as-backup-bucket", "zero-days"],
)
def test_bad_ssm_transfer_settings_fail_before_any_change(s3, bucket_name, extra, named):
    if extra["backup_bucket_ssm_transfer_bucket"] == "SAME":
        extra = {**extra, "backup_bucket_ssm_transfer_bucket": bucket_name}
    rc, out = run_playbook("--limit", "localhost", extra_vars={"backup_bucket_name": bucket_name, **extra})
    assert rc != 0
    (msg,) = failures(out)
    assert named in msg
    assert changed_tasks(out) == []
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_inventory_aws_connects_through_the_bucket_the_play_creates(tmp_path):
    """inventory/aws's group_vars, read by Ansible itself for an instance in group mongodb: the SSM
    connection's bucket is the variable the backup_bucket play creates the bucket from."""
    (tmp_path / "hosts.yml").write_text(
        json.dumps({"all": {"children": {"mongodb": {"hosts": {"i-0123456789abcdef0": {}}}}}})
    )
    (tmp_path / "group_vars").symlink_to(ROOT / "inventory/aws/group_vars")
    rc, out = ansible_json(
        [
            str(BIN / "ansible"),
            "all",
            "-i",
            str(tmp_path / "hosts.yml"),
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ [ansible_aws_ssm_bucket_name, backup_bucket_ssm_transfer_bucket, backup_bucket_name] }}",
        ]
    )
    assert rc == 0, out
    result = out["plays"][0]["tasks"][0]["hosts"]["i-0123456789abcdef0"]["msg"]
    transfer = "tasky-ansible-ssm-transfer-123456789012"  # the account id in it: nobody else can take the name
    assert result == [transfer, transfer, "tasky-mongodb-backups"]
    compose = yaml.safe_load((ROOT / "inventory/aws/aws_ec2.yml").read_text())["compose"]
    assert "ansible_aws_ssm_bucket_name" not in compose  # no second, literal copy of the name


def test_a_public_bucket_logs_its_requests_to_a_private_bucket(moto_account, moto_bucket):
    """Server access logging (RGW 16 has none; moto's server checks the target's log delivery
    grant): the public bucket's requests go to a private bucket of their own that expires them,
    and a second converge changes nothing."""
    moto_account.block_public_access(BlockPublicPolicy=False, RestrictPublicBuckets=False)
    logs = f"{moto_bucket}-access-logs"
    extra = {
        "backup_bucket_public_read": True,
        "backup_bucket_access_log_bucket": logs,
        "backup_bucket_object_ownership": "BucketOwnerEnforced",
    }
    try:
        rc, out = moto_account.converge(moto_bucket, **extra)
        assert rc == 0, failures(out)
        s3 = moto_account.client("s3")
        enabled = s3.get_bucket_logging(Bucket=moto_bucket)["LoggingEnabled"]
        assert (enabled["TargetBucket"], enabled["TargetPrefix"]) == (logs, "s3-access/")
        block = s3.get_public_access_block(Bucket=logs)["PublicAccessBlockConfiguration"]
        assert block["BlockPublicPolicy"] and block["RestrictPublicBuckets"] and block["IgnorePublicAcls"]
        grants = s3.get_bucket_acl(Bucket=logs)["Grants"]
        assert not [g for g in grants if g["Grantee"].get("URI", "").endswith("/global/AllUsers")]
        (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=logs)["Rules"]
        assert rule["Expiration"]["Days"] == 90
        rc, out = moto_account.converge(moto_bucket, **extra)
        assert rc == 0 and changed_tasks(out) == [], changed_tasks(out)
    finally:
        remove_bucket(moto_account.client("s3"), logs)
