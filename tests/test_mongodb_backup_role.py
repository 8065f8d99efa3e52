"""The mongodb_backup role refuses bad input before any change, naming the variable.

Only runs that validation must stop: this machine is never changed.
"""

import json
import os

import pytest
from conftest import BIN, ROOT, ansible_json, task_results

GOOD = {"mongodb_backup_bucket": "tasky-test-bucket", "mongodb_backup_password": "test-backup-not-real"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"mongodb_backup_password": ""}, "mongodb_backup_password"),
        ({"mongodb_backup_bucket": "Bad_Bucket"}, "mongodb_backup_bucket"),
        ({"mongodb_backup_schedule": "every night"}, "mongodb_backup_schedule"),
        ({"mongodb_backup_prefix": "/backups"}, "mongodb_backup_prefix"),
        ({"mongodb_backup_compress_level": 11}, "mongodb_backup_compress_level"),
        ({"mongodb_backup_logrotate_frequency": "hourly"}, "mongodb_backup_logrotate_frequency"),
    ],
)
def test_bad_input_fails_before_any_change(change, named):
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(ROOT / "tests/playbooks/mongodb_backup_role.yml")]
    cmd += ["-e", json.dumps({"ansible_python_interpreter": str(BIN / "python"), **GOOD, **change})]
    rc, out = ansible_json(cmd)
    assert rc != 0
    tasks = list(task_results(out))
    failed = [r["msg"] for _, r in tasks if r.get("failed")]
    assert len(failed) == 1 and named in failed[0]
    assert not any(r.get("changed") for _, r in tasks)
    assert not os.path.exists("/etc/cron.d/mongodb-backup") and not os.path.exists("/opt/mongodb-backup")
