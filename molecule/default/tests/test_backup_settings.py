"""Settings of the backup that must agree with the rest of the host: the mongod port, and the
cron schedule as the host's own cron reads it."""

import importlib.util
import json
import os
import shlex
from pathlib import Path

import pytest
import yaml

ROLE = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "roles/mongodb_backup"
_spec = importlib.util.spec_from_file_location("cron_schedule", ROLE / "filter_plugins/cron_schedule.py")
_cron = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cron)


def test_backup_connects_to_the_port_mongod_listens_on(lab_host):
    mongod = yaml.safe_load(lab_host.file("/etc/mongod.conf").content_string)
    engine = json.loads(lab_host.file("/etc/mongodb-backup/backup.json").content_string)
    assert engine["mongodb_port"] == mongod["net"]["port"]


# The role's check against the parser of the cron the host runs (Debian's), through `crontab`,
# which refuses a line cron could not read. The role refuses all that cron refuses; it also
# refuses two things cron takes, as certain mistakes (STRICTER).
CRON_REFUSES = [
    "0 25 * * *",
    "60 2 * * *",
    "0 2 0 * *",
    "0 2 * 13 *",
    "0 2 * * 8",
    "*/0 * * * *",
    "0 2 * * FRI/2",
    "5/10 * * * *",
    "0 2 1,,2 * *",
    "0 2 * * TUX",
]
CRON_TAKES = [
    "0 2 * * *",
    "*/15 * * * *",
    "0 0-23/2 1,15 * MON",
    "30 4 1 jan *",
    "0 2 * * 7",
    "0 2 * JAN-MAR *",
    "0 2 * * mon,tue",
    "59 23 31 12 SUN",
    "0 2 * * sun-sat",
    "0 2 * * mon-fri/2",
]
STRICTER = ["0 5-1 * * *", "*/61 * * * *"]


@pytest.fixture(scope="module")
def crontab_accepts(lab_host):
    def accepts(schedule):
        return lab_host.run(f"printf '%s true\\n' {shlex.quote(schedule)} | crontab -u nobody -").rc == 0

    yield accepts
    lab_host.run("crontab -u nobody -r")


@pytest.mark.parametrize("schedule", CRON_REFUSES + CRON_TAKES + STRICTER)
def test_schedule_check_agrees_with_the_hosts_cron(crontab_accepts, schedule):
    role_accepts = _cron.cron_schedule_problems(schedule) == []
    if schedule in STRICTER:
        assert crontab_accepts(schedule) and not role_accepts
    else:
        assert role_accepts == crontab_accepts(schedule)


def test_the_installed_schedule_is_one_cron_reads(lab_host):
    line = next(
        line
        for line in lab_host.file("/etc/cron.d/mongodb-backup").content_string.splitlines()
        if line.endswith("/opt/mongodb-backup/backup.sh")
    )
    assert _cron.cron_schedule_problems(" ".join(line.split()[:5])) == []
