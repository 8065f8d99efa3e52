"""Backup runs publish CloudWatch metrics, best-effort, to the lab's loopback CloudWatch API."""

import datetime
import uuid
from pathlib import Path

from conftest import CLOUDWATCH_ENDPOINT, run_engine, write_config, write_mongo_config


def datapoints(cloudwatch, namespace, name, bucket, statistic="Sum"):
    now = datetime.datetime.now(datetime.timezone.utc)
    answer = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "Bucket", "Value": bucket}],
        StartTime=now - datetime.timedelta(hours=1),
        EndTime=now + datetime.timedelta(minutes=5),
        Period=3600,
        Statistics=[statistic],
    )
    return [point[statistic] for point in answer["Datapoints"]]


def with_metrics(path, config, **extra):
    namespace = f"Tasky/Test-{uuid.uuid4().hex[:8]}"
    write_config(path, {**config, "cloudwatch_namespace": namespace, **extra})
    return namespace


def test_successful_run_publishes_success_duration_size_and_age(cloudwatch, engine_config):
    path, config = engine_config
    namespace = with_metrics(path, config, cloudwatch_endpoint_url=CLOUDWATCH_ENDPOINT)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    bucket = config["bucket"]
    assert datapoints(cloudwatch, namespace, "BackupSuccess", bucket) == [1.0]
    assert datapoints(cloudwatch, namespace, "BackupSize", bucket, "Maximum")[0] > 0
    assert datapoints(cloudwatch, namespace, "BackupDuration", bucket, "Maximum")[0] > 0
    assert datapoints(cloudwatch, namespace, "LastSuccessAge", bucket, "Maximum")[0] < 60


def test_failed_run_publishes_failure(cloudwatch, engine_config):
    path, config = engine_config
    namespace = with_metrics(path, config, cloudwatch_endpoint_url=CLOUDWATCH_ENDPOINT)
    write_mongo_config(Path(config["mongodump_config"]), "not-the-backup-password")  # mongodump fails
    assert run_engine("backup", "--config", str(path)).returncode == 1
    assert datapoints(cloudwatch, namespace, "BackupSuccess", config["bucket"]) == [0.0]
    assert datapoints(cloudwatch, namespace, "BackupSize", config["bucket"]) == []


def test_unreachable_cloudwatch_never_fails_the_backup(engine_config):
    path, config = engine_config
    with_metrics(path, config, cloudwatch_endpoint_url="http://127.0.0.1:9")
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    assert "could not publish CloudWatch metrics" in open(config["log_file"], encoding="utf-8").read()
