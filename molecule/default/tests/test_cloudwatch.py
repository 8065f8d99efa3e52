"""CloudWatch: the agent config on the host, run metrics and the missing-backup alarm."""

import datetime
import json

from conftest import BUCKET


def test_cloudwatch_agent_config_is_rendered_but_agent_not_installed(lab_host):
    f = lab_host.file("/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json")
    assert f.is_file and f.user == "root" and f.mode == 0o644
    entries = json.loads(f.content_string)["logs"]["logs_collected"]["files"]["collect_list"]
    assert {e["file_path"] for e in entries} == {
        "/var/log/mongodb-backup.log",
        "/var/log/mongodb/mongod.log",
        "/var/log/user-data.log",
    }
    assert {e["log_group_name"] for e in entries} == {"/aws/ec2/mongodb"}
    assert not lab_host.package("amazon-cloudwatch-agent").is_installed


def test_backups_publish_metrics_that_read_back(lab_host, cloudwatch):
    assert lab_host.run("/opt/mongodb-backup/backup.sh").rc == 0
    now = datetime.datetime.now(datetime.timezone.utc)
    points = cloudwatch.get_metric_statistics(
        Namespace="Tasky/MongoDBBackup",
        MetricName="BackupSuccess",
        Dimensions=[{"Name": "Bucket", "Value": BUCKET}],
        StartTime=now - datetime.timedelta(hours=1),
        EndTime=now + datetime.timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum", "Minimum"],
    )["Datapoints"]
    assert points and points[0]["Sum"] >= 1 and points[0]["Minimum"] == 1.0


def test_missing_backup_alarm_watches_26_hours(cloudwatch):
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[f"tasky-mongodb-backup-missing-{BUCKET}"])["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Namespace"]) == ("BackupSuccess", "Tasky/MongoDBBackup")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (3600, 26)
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1.0
    assert alarm["TreatMissingData"] == "breaching"
