"""Backup runs publish CloudWatch metrics, best-effort, to the lab's loopback CloudWatch API:
moto's server (lab/cloudwatch.sh), a stand-in for CloudWatch, which stores and serves the
points and alarms it is sent; the real service's alarm evaluation is not shown here."""

import datetime
import socket
import uuid
from pathlib import Path

from conftest import CLOUDWATCH_ENDPOINT, run_engine, seed, write_config, write_mongo_config


def datapoints(cloudwatch, namespace, name, bucket, statistic="Sum", host=None):
    """The points of one metric in the last hour. moto's server also counts, for a query by
    Bucket alone, the points published with Bucket and Host (CloudWatch matches dimensions
    exactly), so Sum is checked per host and the bucket-level series by Maximum/Minimum."""
    now = datetime.datetime.now(datetime.timezone.utc)
    dimensions = [{"Name": "Bucket", "Value": bucket}] + ([{"Name": "Host", "Value": host}] if host else [])
    answer = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dimensions,
        StartTime=now - datetime.timedelta(hours=1),
        EndTime=now + datetime.timedelta(minutes=5),
        Period=3600,
        Statistics=[statistic],
    )
    return [point[statistic] for point in answer["Datapoints"]]


def with_metrics(path, config, **extra):
    """A namespace of this test's own (nothing an earlier run published can answer for it)."""
    namespace = f"Tasky/Test-{uuid.uuid4().hex[:8]}"
    extra = {"cloudwatch_endpoint_url": CLOUDWATCH_ENDPOINT, **extra}
    write_config(path, {**config, "cloudwatch_namespace": namespace, **extra})
    return namespace


def test_successful_run_publishes_success_duration_size_and_age(cloudwatch, engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    namespace = with_metrics(path, config)
    assert run_engine("backup", "--config", str(path)).returncode == 0
    bucket, host = config["bucket"], socket.gethostname()
    series = cloudwatch.list_metrics(Namespace=namespace, MetricName="BackupSuccess")["Metrics"]
    assert sorted(sorted(d["Name"] for d in m["Dimensions"]) for m in series) == [["Bucket"], ["Bucket", "Host"]]
    assert datapoints(cloudwatch, namespace, "BackupSuccess", bucket, host=host) == [1.0]
    assert datapoints(cloudwatch, namespace, "BackupSuccess", bucket, "Minimum") == [1.0]
    assert datapoints(cloudwatch, namespace, "BackupSize", bucket, "Maximum")[0] > 0
    assert datapoints(cloudwatch, namespace, "BackupDuration", bucket, "Maximum")[0] > 0
    assert datapoints(cloudwatch, namespace, "LastSuccessAge", bucket, "Maximum")[0] < 60


def test_failed_run_publishes_failure(cloudwatch, engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    namespace = with_metrics(path, config)
    write_mongo_config(Path(config["mongodump_config"]), "not-the-backup-password")  # the server refuses it
    assert run_engine("backup", "--config", str(path)).returncode == 1
    assert datapoints(cloudwatch, namespace, "BackupSuccess", config["bucket"], host=socket.gethostname()) == [0.0]
    assert datapoints(cloudwatch, namespace, "BackupSuccess", config["bucket"], "Maximum") == [0.0]
    assert datapoints(cloudwatch, namespace, "BackupSize", config["bucket"]) == []


def test_unreachable_cloudwatch_never_fails_the_backup(engine_config, app_db):
    path, config = engine_config
    seed(app_db, todos=5, users=1)
    with_metrics(path, config, cloudwatch_endpoint_url="http://127.0.0.1:9")
    proc = run_engine("backup", "--config", str(path))
    assert proc.returncode == 0, proc.stdout
    assert "could not publish CloudWatch metrics" in open(config["log_file"], encoding="utf-8").read()
