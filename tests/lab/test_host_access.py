"""Least privilege for the MongoDB hosts, from one list of actions (backup_bucket_host_actions).

On the lab's RGW the backups run as a second S3 user that has no rights of its own: only what
the bucket policy, built by the backup_bucket role from that list, grants it. The same list
makes the IAM policy of the hosts' instance role in production (checked on moto's IAM).
"""

import json

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from conftest import (
    CLOUDWATCH_ENDPOINT,
    ENDPOINT,
    ROOT,
    S3_PORT,
    lab_client,
    remove_bucket,
    run_engine,
    run_playbook,
    seed,
    seed_bulk,
    snapshot,
    task_results,
    write_config,
)
from fault_proxy import FaultProxy

HOST_USER = "arn:aws:iam:::user/tasky-lab-host"
# The lab hosts' throwaway keys (lab/common.sh).
HOST_KEYS = {"access_key": "TASKYLABHOSTKEY00000", "secret_key": "tasky-lab-host-throwaway-secret-key-00000"}


def role_defaults():
    return yaml.safe_load((ROOT / "roles/backup_bucket/defaults/main.yml").read_text())


def converge(bucket, **extra):
    rc, out = run_playbook(
        "--limit",
        "localhost",
        extra_vars={"backup_bucket_name": bucket, "backup_bucket_host_principals": [HOST_USER], **extra},
    )
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    return out


@pytest.fixture
def host_config(s3, bucket_name, engine_config):
    """The engine as a lab host runs it: the host user's keys, on a bucket the role made."""
    converge(bucket_name)
    path, config = engine_config
    config = {**config, "bucket": bucket_name, **HOST_KEYS}
    write_config(path, config)
    yield path, config
    remove_bucket(s3, bucket_name)


def client_of(service, endpoint, keys):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=keys["access_key"],
        aws_secret_access_key=keys["secret_key"],
        region_name="us-east-1",
    )


def test_the_host_user_has_no_rights_of_its_own(bucket_name, s3):
    """Without the role's bucket policy the hosts' user can do nothing on the bucket."""
    s3.create_bucket(Bucket=bucket_name)
    host = client_of("s3", ENDPOINT, HOST_KEYS)
    with pytest.raises(ClientError, match="AccessDenied"):
        host.put_object(Bucket=bucket_name, Key="backups/x", Body=b"x")
    with pytest.raises(ClientError, match="AccessDenied"):
        host.list_objects_v2(Bucket=bucket_name)


def test_backup_list_verify_and_restore_with_only_the_granted_actions(host_config, app_db, mongo_admin, restore_login):
    path, _config = host_config
    seed(app_db, todos=20, users=2)
    before = snapshot(mongo_admin, app_db.name)
    backup = run_engine("backup", "--config", str(path))
    assert backup.returncode == 0, backup.stdout
    listed = json.loads(run_engine("list", "--config", str(path)).stdout)
    assert {item["name"] for item in listed} >= {"latest.tar.gz"}
    assert run_engine("verify", "--config", str(path)).returncode == 0
    app_db.todos.delete_many({})
    user, secret = restore_login
    restored = run_engine(
        "restore", "--config", str(path), "--drop", "--restore-user", user, "--restore-config", secret
    )
    assert restored.returncode == 0, restored.stderr
    assert snapshot(mongo_admin, app_db.name) == before


def host_run(s3, bucket_name, engine_config, removed, **config_changes):
    actions = [a for a in role_defaults()["backup_bucket_host_actions"] if a != removed]
    converge(bucket_name, backup_bucket_host_actions=actions)
    path, config = engine_config
    config = {**config, "bucket": bucket_name, **HOST_KEYS, "retries": 1, "s3_patience_s": 0, **config_changes}
    write_config(path, config)
    proc = run_engine("backup", "--config", str(path))
    with open(config["log_file"], encoding="utf-8") as handle:
        return proc, handle.read()


@pytest.mark.parametrize("removed", ["s3:PutObject", "s3:DeleteObjectVersion", "s3:ListBucket"])
def test_a_policy_missing_one_action_fails_the_run_with_access_denied(s3, bucket_name, engine_config, app_db, removed):
    """Each of these is needed by every backup, and RGW enforces it. (RGW lets the writer of an
    object read and tag it whatever the policy says, so GetObject and the tagging actions cannot
    be shown missing on RGW; AWS with BucketOwnerEnforced has no such writer's rights.)"""
    seed(app_db, todos=5, users=1)
    proc, log = host_run(s3, bucket_name, engine_config, removed)
    assert proc.returncode == 1, proc.stdout
    assert "AccessDenied" in log or "Forbidden" in log, log[-2000:]
    assert "ERROR backup failed" in log


def test_without_abort_a_failed_upload_is_left_behind(s3, bucket_name, engine_config, app_db):
    """s3:AbortMultipartUpload is what the failure path needs: with it missing, a run whose part
    upload fails cannot abort, and says so (the lifecycle removes the upload after a day)."""
    seed_bulk(app_db, 12 << 20)

    def fail_part_2(method, path, headers):
        return ("fail", 503) if method == "PUT" and "partNumber=2&" in path + "&" else None

    proxy = FaultProxy(S3_PORT, [fail_part_2])
    try:
        proc, log = host_run(s3, bucket_name, engine_config, "s3:AbortMultipartUpload", endpoint_url=proxy.endpoint)
    finally:
        proxy.close()
    assert proc.returncode == 1
    assert "could not abort the multipart upload" in log and "AccessDenied" in log
    assert len(s3.list_multipart_uploads(Bucket=bucket_name).get("Uploads", [])) == 1


def test_the_hosts_iam_policy_is_written_from_the_same_list(bucket_name, tmp_path):
    policy_file = tmp_path / "host-policy.json"
    rc, _out = run_playbook(
        "--limit",
        "localhost",
        extra_vars={"backup_bucket_name": bucket_name, "backup_bucket_host_policy_file": str(policy_file)},
        check=True,
    )
    assert rc == 0 and not policy_file.exists()  # check mode writes nothing
    converge(bucket_name, backup_bucket_host_policy_file=str(policy_file))
    policy = json.loads(policy_file.read_text())
    allowed = [s for s in policy["Statement"] if s["Sid"].startswith("Hosts") and s["Effect"] == "Allow"]
    granted = [a for s in allowed for a in _list(s["Action"])]
    assert sorted(a for a in granted if a.startswith("s3:")) == sorted(role_defaults()["backup_bucket_host_actions"])
    assert "cloudwatch:PutMetricData" in granted
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["HostsBucketLevel"]["Resource"] == f"arn:aws:s3:::{bucket_name}"
    assert by_sid["HostsObjectLevel"]["Resource"] == f"arn:aws:s3:::{bucket_name}/*"
    # What vouches for the hosts' manifests is not theirs to write.
    deny = by_sid["HostsNeverWriteTheSigners"]
    signers = [f"arn:aws:s3:::{bucket_name}/{key}" for key in ("allowed_signers", "*/allowed_signers")]  # and deeper
    assert deny["Effect"] == "Deny" and deny["Resource"][:2] == signers
    assert "s3:PutObject" in deny["Action"] and "s3:DeleteObjectVersion" in deny["Action"]
    remove_bucket(lab_client("s3", ENDPOINT), bucket_name)


def _list(value):
    return value if isinstance(value, list) else [value]


def test_the_iam_role_and_instance_profile_on_moto(bucket_name):
    """backup_bucket_host_role_name makes the hosts' IAM role, its inline policy and instance
    profile (moto's IAM, which stores what it is sent)."""
    rc, out = run_playbook(
        "--limit",
        "localhost",
        extra_vars={
            "backup_bucket_name": bucket_name,
            "backup_bucket_endpoint_url": CLOUDWATCH_ENDPOINT,  # moto serves S3 and IAM on one port
            "backup_bucket_host_role_name": f"{bucket_name}-hosts",
            "backup_bucket_host_principals": [],
        },
    )
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    iam = client_of("iam", CLOUDWATCH_ENDPOINT, {"access_key": "moto", "secret_key": "moto"})
    role = iam.get_role(RoleName=f"{bucket_name}-hosts")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "ec2.amazonaws.com"
    (name,) = iam.list_role_policies(RoleName=f"{bucket_name}-hosts")["PolicyNames"]
    document = iam.get_role_policy(RoleName=f"{bucket_name}-hosts", PolicyName=name)["PolicyDocument"]
    granted = {a for s in document["Statement"] for a in _list(s["Action"])}
    assert granted >= set(role_defaults()["backup_bucket_host_actions"])
    profiles = iam.list_instance_profiles_for_role(RoleName=f"{bucket_name}-hosts")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in profiles] == [f"{bucket_name}-hosts"]
    # The SSM connection and the CloudWatch agent need AWS's own policies (moto knows them all).
    attached = iam.list_attached_role_policies(RoleName=f"{bucket_name}-hosts")["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    ]


def test_the_owner_account_is_checked_first_and_bounds_the_hosts_policy(bucket_name, tmp_path):
    """backup_bucket_owner_account_id: credentials of another account are refused before any
    change (moto's STS answers its own account); the right one puts s3:ResourceAccount on every
    S3 statement of the hosts' IAM policy."""
    sts = client_of("sts", CLOUDWATCH_ENDPOINT, {"access_key": "moto", "secret_key": "moto"})
    account = sts.get_caller_identity()["Account"]
    other = "111111111111" if account != "111111111111" else "222222222222"
    moto = {"backup_bucket_endpoint_url": CLOUDWATCH_ENDPOINT, "backup_bucket_host_principals": []}
    policy_file = tmp_path / "host-policy.json"
    extra = {"backup_bucket_name": bucket_name, **moto, "backup_bucket_host_policy_file": str(policy_file)}
    rc, out = run_playbook("--limit", "localhost", extra_vars={**extra, "backup_bucket_owner_account_id": other})
    assert rc != 0
    (failed,) = [r["msg"] for _, r in task_results(out) if r.get("failed")]
    assert f"backup_bucket_owner_account_id is {other}, but these credentials are of AWS account {account}" in failed
    assert not [name for name, r in task_results(out) if r.get("changed")] and not policy_file.exists()
    rc, out = run_playbook("--limit", "localhost", extra_vars={**extra, "backup_bucket_owner_account_id": account})
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    statements = json.loads(policy_file.read_text())["Statement"]
    s3_allowed = [s for s in statements if s["Effect"] == "Allow" and _list(s["Action"])[0].startswith("s3:")]
    assert s3_allowed and all(s["Condition"]["StringEquals"]["s3:ResourceAccount"] == account for s in s3_allowed)
    remove_bucket(client_of("s3", CLOUDWATCH_ENDPOINT, {"access_key": "moto", "secret_key": "moto"}), bucket_name)


def matching_rules(rules, key, tags):
    """The lifecycle rules whose filter takes an object of that key and tags."""
    found = []
    for rule in rules:
        where = rule.get("Filter", {})
        prefix = where.get("And", {}).get("Prefix", where.get("Prefix", rule.get("Prefix", "")))
        wanted = where.get("And", {}).get("Tags", []) + ([where["Tag"]] if "Tag" in where else [])
        if key.startswith(prefix) and all(tag in tags for tag in wanted):
            found.append(rule)
    return found


def test_latest_never_expires_when_backups_stop(s3, host_config, app_db):
    """After 30 days without a successful backup every timestamped and daily backup expires,
    but latest.tar.gz keeps its current version, and the manifest it verifies with (of the
    backup it copies) stays beside it: the rules the role set, read back from RGW,
    and the tags the engine wrote, show that no expiration rule matches it (its noncurrent
    versions still expire)."""
    path, config = host_config
    seed(app_db, todos=5, users=1)
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    rules = s3.get_bucket_lifecycle_configuration(Bucket=config["bucket"])["Rules"]
    stamped, daily, latest = json.loads(proc.stdout.splitlines()[-1][len("SUMMARY ") :])["keys"]
    host = client_of("s3", ENDPOINT, HOST_KEYS)  # RGW objects belong to their writer, the hosts' user
    for key in (stamped, daily, latest, f"{stamped}.json"):
        tags = host.get_object_tagging(Bucket=config["bucket"], Key=key).get("TagSet", [])
        # An Expiration with Days expires current versions; ExpiredObjectDeleteMarker never does.
        expiring = [r for r in matching_rules(rules, key, tags) if "Days" in r.get("Expiration", {})]
        if key in (latest, f"{stamped}.json"):  # latest, and its manifest: so that it still verifies
            assert tags == [] and expiring == [], (key, tags, expiring)
            assert any("NoncurrentVersionExpiration" in r for r in matching_rules(rules, key, tags))
        else:
            assert [r["Expiration"]["Days"] for r in expiring] == [30], (key, tags)


def test_with_sse_kms_the_hosts_may_use_the_key(bucket_name, tmp_path):
    """SSE-KMS objects cannot be written or read without the key: the hosts' policy grants
    kms:GenerateDataKey and kms:Decrypt on it (converged on moto's S3: RGW has no KMS)."""
    policy_file = tmp_path / "host-policy.json"
    key = "arn:aws:kms:us-east-1:123456789012:key/tasky-test"
    extra = {
        "backup_bucket_name": bucket_name,
        "backup_bucket_endpoint_url": CLOUDWATCH_ENDPOINT,  # moto serves S3 too
        "backup_bucket_encryption": "aws:kms",
        "backup_bucket_kms_key_id": key,
        "backup_bucket_public_read": False,
        "backup_bucket_host_principals": [],
        "backup_bucket_host_policy_file": str(policy_file),
    }
    rc, out = run_playbook("--limit", "localhost", extra_vars=extra)
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    statements = {s["Sid"]: s for s in json.loads(policy_file.read_text())["Statement"]}
    assert statements["HostsBackupKey"] == {
        "Sid": "HostsBackupKey",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key,
    }
