"""CloudWatch: the agent config on the host, run metrics and the missing-backup alarm."""

import datetime
import json

from conftest import BUCKET


def test_cloudwatch_agent_config_is_rendered_but_agent_not_installed(lab_host):
    # The source config lives outside /opt/aws/amazon-cloudwatch-agent/etc/, where
    # `amazon-cloudwatch-agent-ctl -a fetch-config` deletes and rewrites files on every load.
    f = lab_host.file("/etc/amazon-cloudwatch-agent/tasky.json")
    assert f.is_file and f.user == "root" and f.group == "root" and f.mode == 0o644
    assert lab_host.file("/etc/amazon-cloudwatch-agent").mode == 0o755
    assert not lab_host.file("/opt/aws/amazon-cloudwatch-agent/etc").exists
    config = json.loads(f.content_string)
    entries = config["logs"]["logs_collected"]["files"]["collect_list"]
    assert {e["file_path"] for e in entries} == {
        "/var/log/mongodb-backup.log",
        "/var/log/mongodb/mongod.log",
    }  # not /var/log/user-data.log: only with cloudwatch_agent_ship_user_data_log
    assert {e["log_group_name"] for e in entries} == {"/aws/ec2/mongodb"}
    assert not lab_host.package("amazon-cloudwatch-agent").is_installed


def test_disk_metric_watches_the_mount_holding_mongodb_data(lab_host):
    """The agent names disks by mount point: the one holding the mongodb role's data path, as
    the host's own findmnt sees it (the container's root here)."""
    config = json.loads(lab_host.file("/etc/amazon-cloudwatch-agent/tasky.json").content_string)
    data_path = "/var/lib/mongodb"  # the mongodb role's mongodb_data_path on Debian
    assert lab_host.file(data_path).is_directory
    mount = lab_host.check_output(f"findmnt -n -o TARGET --target {data_path}")
    assert config["metrics"]["metrics_collected"]["disk"]["resources"] == [mount]


def test_backups_publish_metrics_that_read_back(lab_host, cloudwatch, seeded):
    """Only points published after this test started count: the lab's CloudWatch outlives runs."""
    started = datetime.datetime.now(datetime.timezone.utc)
    assert lab_host.run("/opt/mongodb-backup/backup.sh").rc == 0
    points = cloudwatch.get_metric_statistics(
        Namespace="Tasky/MongoDBBackup",
        MetricName="BackupSuccess",
        Dimensions=[{"Name": "Bucket", "Value": BUCKET}, {"Name": "Host", "Value": lab_host.check_output("hostname")}],
        StartTime=started,
        EndTime=started + datetime.timedelta(minutes=5),
        Period=300,
        Statistics=["Sum", "Minimum"],
    )["Datapoints"]
    assert [(p["Sum"], p["Minimum"]) for p in points] == [(1.0, 1.0)]


def test_missing_backup_alarm_watches_26_hours(cloudwatch):
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[f"tasky-mongodb-backup-missing-{BUCKET}"])["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Namespace"]) == ("BackupSuccess", "Tasky/MongoDBBackup")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (3600, 26)
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1.0
    assert alarm["TreatMissingData"] == "breaching"
