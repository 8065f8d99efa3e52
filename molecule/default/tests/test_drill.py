"""The restore drill on the converged host: its weekly cron entry (only with a schedule), its
root-only login, `backup.sh --drill` and the module's state=drill against the host's FerretDB with
the real mongorestore, status-check.sh, the metrics and the missing-drill alarm."""

import datetime
import json
import os
import tempfile
from pathlib import Path

import yaml
from conftest import BUCKET, HOST_NAME, module_on_host, run_ansible

DRILL_CRON = "/etc/cron.d/mongodb-backup-drill"
ARTIFACTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / ".lab" / "artifacts"


def cron_jobs(lab_host, path):
    content = lab_host.file(path).content_string
    return [line for line in content.splitlines() if line and not line.startswith(("#", "SHELL", "PATH"))]


def test_the_drill_cron_entry_is_the_lab_inventorys_weekly_drill(lab_host):
    cron = lab_host.file(DRILL_CRON)
    assert cron.user == "root" and cron.mode == 0o644
    assert cron_jobs(lab_host, DRILL_CRON) == ["0 4 * * 0 root /opt/mongodb-backup/backup.sh --drill"]


def test_the_drill_login_is_a_root_only_file_the_engine_names(lab_host):
    secret = lab_host.file("/etc/mongodb-backup/mongorestore-drill.yaml")
    assert (secret.user, secret.group, secret.mode) == ("root", "root", 0o600)
    engine = json.loads(lab_host.file("/etc/mongodb-backup/backup.json").content_string)
    assert engine["drill_user"] == "backup-drill" and engine["drill_config"] == secret.path
    assert (engine["drill_schedule"], engine["drill_max_age_days"]) == ("0 4 * * 0", 7)


def drill_result(run):
    assert run.stdout.strip(), run.stderr
    return json.loads(run.stdout)


def test_backup_sh_drill_restores_into_scratch_databases_and_drops_them(lab_host, seeded, mongo_admin):
    assert lab_host.run("/opt/mongodb-backup/backup.sh").rc == 0
    before = sorted(mongo_admin.list_database_names())
    run = lab_host.run("/opt/mongodb-backup/backup.sh --drill")
    result = drill_result(run)
    assert run.rc == 0 and result["status"] == "ok" and result["differences"] == [], result
    assert result["databases"] == {"go-mongodb": "drill_go-mongodb"}
    counted = result["compared"][f"go-mongodb.{seeded.name}"]
    assert counted == {
        "documents": 50,
        "indexes": ["_id_", "name_1"],
        "expected": {"documents": 50, "indexes": ["_id_", "name_1"]},
    }
    assert result["recovery_s"] > 0 and result["scratch_dropped"] is True
    # The figures, kept beside the catalogue's screenshot (the host is gone after Molecule).
    figures = {k: result[k] for k in ("download_s", "restore_s", "recovery_s", "duration_s", "documents", "size")}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"drill-{HOST_NAME}.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"drill on the lab host: {figures}")
    assert sorted(mongo_admin.list_database_names()) == before and "drill_go-mongodb" not in before
    assert seeded.count_documents({}) == 50
    log = lab_host.file("/var/log/mongodb-backup.log").content_string
    assert "restoring go-mongodb into drill_go-mongodb" in log and "tasky-lab-drill-password" not in log

    status = lab_host.run("/opt/mongodb-backup/status-check.sh")
    report = json.loads(status.stdout)
    assert status.rc == 0 and report["ok"], report
    assert report["last_drill"]["status"] == "ok" and report["last_drill_success"] == result["finished_at"]


def test_the_module_runs_a_drill_without_reporting_a_change(lab_host, seeded):
    assert lab_host.run("/opt/mongodb-backup/backup.sh").rc == 0  # its own backup, not an earlier test's
    result = module_on_host("state=drill")
    assert result["changed"] is False and result["status"] == "ok", result
    assert result["key"] == "backups/latest.tar.gz.age" and result["backup_key"].startswith("backups/mongodb-backup-")


def test_drills_publish_metrics_that_read_back(lab_host, cloudwatch):
    """One more drill adds exactly one RestoreDrillSuccess of 1 and a duration. Counted against
    what the window held before: the drills of the tests before this one land in the same
    five-minute period, which CloudWatch (and moto) sum together."""
    now = datetime.datetime.now(datetime.timezone.utc)
    dimensions = [{"Name": "Bucket", "Value": BUCKET}, {"Name": "Host", "Value": lab_host.check_output("hostname")}]
    query = {
        "Namespace": "Tasky/MongoDBBackup",
        "Dimensions": dimensions,
        "StartTime": now - datetime.timedelta(hours=1),
        "EndTime": now + datetime.timedelta(hours=1),
        "Period": 7200,
    }

    def drills(metric, statistic):
        points = cloudwatch.get_metric_statistics(MetricName=metric, Statistics=["SampleCount", statistic], **query)
        return [(p["SampleCount"], p[statistic]) for p in points["Datapoints"]] or [(0.0, None)]

    assert lab_host.run("/opt/mongodb-backup/backup.sh").rc == 0  # its own backup to drill
    ((before, _minimum),) = drills("RestoreDrillSuccess", "Minimum")
    assert lab_host.run("/opt/mongodb-backup/backup.sh --drill").rc == 0
    ((after, minimum),) = drills("RestoreDrillSuccess", "Minimum")
    assert (after - before, minimum) == (1.0, 1.0)  # one more, and every drill so far succeeded
    ((durations, longest),) = drills("RestoreDrillDuration", "Maximum")
    assert durations == after and longest > 0


def test_missing_drill_alarm_watches_7_days(cloudwatch):
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[f"tasky-mongodb-backup-drill-missing-{BUCKET}"])["MetricAlarms"]
    assert (alarm["MetricName"], alarm["Namespace"]) == ("RestoreDrillSuccess", "Tasky/MongoDBBackup")
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (86400, 7)
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1.0
    assert alarm["TreatMissingData"] == "breaching" and alarm["Statistic"] == "Sum"


def schedule_tasks(schedule):
    """The mongodb_backup role's schedule tasks on the lab host, with the lab inventory and one
    drill schedule; returns the per-task results."""
    play = [
        {
            "name": "The mongodb_backup role's cron entries",
            "hosts": "mongodb",
            "become": True,
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Schedule",
                    "ansible.builtin.include_role": {"name": "mongodb_backup", "tasks_from": "schedule.yml"},
                }
            ],
        }
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as playbook:
        yaml.safe_dump(play, playbook)
    try:
        proc = run_ansible(
            ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook.name,
             "-e", json.dumps({"mongodb_backup_drill_schedule": schedule})],
        )  # fmt: skip
    finally:
        os.unlink(playbook.name)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    return [(task["task"]["name"], task["hosts"][HOST_NAME]) for task in tasks if HOST_NAME in task["hosts"]]


def task(results, name):
    (result,) = [r for task_name, r in results if task_name.endswith(name)]
    return result


def test_the_drill_cron_entry_is_there_only_with_a_schedule(lab_host):
    """Without a schedule the role removes the drill's cron entry (the drill stays on, on demand);
    with one it writes it again. The nightly backup's entry is untouched either way."""
    backup_entry = cron_jobs(lab_host, "/etc/cron.d/mongodb-backup")
    try:
        off = schedule_tasks("")
        assert not lab_host.file(DRILL_CRON).exists
        assert task(off, "Remove the restore drill's cron entry while it has no schedule")["changed"] is True
        assert cron_jobs(lab_host, "/etc/cron.d/mongodb-backup") == backup_entry
    finally:
        on = schedule_tasks("0 4 * * 0")  # the lab inventory's: the host as converged
    assert task(on, "Schedule the restore drill in /etc/cron.d")["changed"] is True
    assert cron_jobs(lab_host, DRILL_CRON) == ["0 4 * * 0 root /opt/mongodb-backup/backup.sh --drill"]
