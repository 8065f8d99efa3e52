"""CloudWatch metrics of each backup and drill, best-effort: a metrics failure never fails a run."""

import logging
import socket

from .aws import aws_client
from .state import backup_age_seconds

LOG = logging.getLogger(__name__)


def publish_backup_metrics(settings, result, state):
    """BackupSuccess (1/0), BackupDuration, BackupSize and CatalogueFailures of a good run, and
    LastSuccessAge from the state file."""
    if not settings.cloudwatch_namespace:
        return
    try:
        success = result.get("status") == "success"
        data = [{"MetricName": "BackupSuccess", "Value": 1.0 if success else 0.0, "Unit": "Count"}]
        data.append({"MetricName": "BackupDuration", "Value": float(result.get("duration_s", 0)), "Unit": "Seconds"})
        if success:
            data.append({"MetricName": "BackupSize", "Value": float(result["size"]), "Unit": "Bytes"})
            # The catalogue (index.html/json) is written after each good backup, best-effort.
            failed = 1.0 if result.get("catalogue_error") else 0.0
            data.append({"MetricName": "CatalogueFailures", "Value": failed, "Unit": "Count"})
        age = backup_age_seconds(state or {})
        if age is not None:
            data.append({"MetricName": "LastSuccessAge", "Value": age, "Unit": "Seconds"})
        put_metrics(settings, result, data, "metrics")
    except Exception as exc:  # noqa: BLE001 - best-effort by design
        LOG.warning("could not publish CloudWatch metrics: %s", exc)


def publish_drill_metrics(settings, result, _state=None):
    """RestoreDrillSuccess (1/0) and, when it got as far as restoring, RestoreDrillDuration (the
    recovery time: download, unpack and mongorestore, in seconds)."""
    if not settings.cloudwatch_namespace:
        return
    try:
        ok = result.get("status") == "ok"
        data = [{"MetricName": "RestoreDrillSuccess", "Value": 1.0 if ok else 0.0, "Unit": "Count"}]
        if result.get("recovery_s") is not None:
            data.append({"MetricName": "RestoreDrillDuration", "Value": float(result["recovery_s"]), "Unit": "Seconds"})
        put_metrics(settings, result, data, "drill metrics")
    except Exception as exc:  # noqa: BLE001 - best-effort by design
        LOG.warning("could not publish the drill's CloudWatch metrics: %s", exc)


def put_metrics(settings, result, data, what):
    """Sends data twice: per bucket (what the alarms watch) and per bucket and host."""
    dims = [{"Name": "Bucket", "Value": settings.bucket}]
    host = [*dims, {"Name": "Host", "Value": result.get("host") or socket.gethostname()}]
    data = [{**item, "Dimensions": d} for d in (dims, host) for item in data]
    # Short timeouts and few attempts: metrics must not hold up the run's exit.
    cloudwatch = aws_client(
        settings,
        "cloudwatch",
        settings.cloudwatch_endpoint_url,
        retries={"mode": "standard", "total_max_attempts": 2},
        connect_timeout=5,
        read_timeout=10,
    )
    cloudwatch.put_metric_data(Namespace=settings.cloudwatch_namespace, MetricData=data)
    LOG.info("published %d %s to CloudWatch namespace %s", len(data), what, settings.cloudwatch_namespace)
