"""The converged lab host and the backup bucket."""

from conftest import BUCKET


def test_lab_host_runs_systemd_and_cron(lab_host):
    assert lab_host.run("systemctl is-system-running").stdout.strip() in ("running", "degraded")
    assert lab_host.service("cron").is_running


def test_backup_bucket_is_versioned_with_the_retention_lifecycle(s3):
    """Made by this run's converge: Molecule's prepare step removed the bucket first."""
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    # Two rules since the retention tag (issue 9): tagged backups expire, latest never; old versions.
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    assert sorted(rules) == ["tasky-backups-expire-tagged", "tasky-backups-old-versions"]
    assert rules["tasky-backups-expire-tagged"]["Expiration"]["Days"] == 30
    assert rules["tasky-backups-old-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
