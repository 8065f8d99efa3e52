"""The mongodb_backup role refuses bad input before any change, naming the variable.

Only runs that validation must stop: this machine is never changed.
"""

import importlib.util
import json
import os
import tempfile

import pytest
from conftest import BIN, ROOT, ansible_json, task_results

# The role's own filter, as Ansible loads it.
_spec = importlib.util.spec_from_file_location(
    "cron_schedule", ROOT / "roles/mongodb_backup/filter_plugins/cron_schedule.py"
)
_cron = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cron)
cron_schedule_problems = _cron.cron_schedule_problems

ONE_HOP = {"http_put_response_hop_limit": 1}
GOOD = {"mongodb_backup_bucket": "tasky-test-bucket", "mongodb_backup_password": "test-backup-not-real"}
DRILL = {"mongodb_backup_drill_enabled": True, "mongodb_backup_drill_password": "test-drill-not-real"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"mongodb_backup_password": ""}, "mongodb_backup_password"),
        ({"mongodb_backup_bucket": "Bad_Bucket"}, "mongodb_backup_bucket"),
        ({"mongodb_backup_schedule": "every night"}, "mongodb_backup_schedule"),
        ({"mongodb_backup_prefix": "/backups"}, "mongodb_backup_prefix"),
        ({"mongodb_backup_compress_level": 11}, "mongodb_backup_compress_level"),
        ({"mongodb_backup_logrotate_frequency": "hourly"}, "mongodb_backup_logrotate_frequency"),
        ({"mongodb_backup_users_prefix": "backups/users/"}, "mongodb_backup_users_prefix"),
        ({"mongodb_backup_users_prefix": "private"}, "mongodb_backup_users_prefix"),
        ({"mongodb_backup_drill_enabled": True}, "mongodb_backup_drill_password"),
        ({"mongodb_backup_drill_schedule": "0 4 * * 0"}, "mongodb_backup_drill_enabled"),
        ({**DRILL, "mongodb_backup_drill_schedule": "every sunday"}, "mongodb_backup_drill_schedule"),
        (
            {**DRILL, "mongodb_backup_alarm_enabled": True, "mongodb_backup_drill_max_age_days": 8},
            "mongodb_backup_drill_max_age_days",
        ),
        ({**DRILL, "mongodb_backup_drill_max_age_days": 0}, "mongodb_backup_drill_max_age_days"),
        # The aws_ec2 inventory's metadata options of an instance: IMDSv1, or a hop limit over 1.
        (
            {"instance_id": "i-0abc", "metadata_options": {"http_tokens": "optional", **ONE_HOP}},
            "i-0abc: its instance metadata service answers IMDSv1 (tokens optional) with a hop limit of 1",
        ),
        (
            {
                "instance_id": "i-0abc",
                "metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 2},
            },
            "--http-tokens required --http-put-response-hop-limit 1",
        ),
    ],
)
def test_bad_input_fails_before_any_change(change, named):
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(ROOT / "tests/lab/playbooks/mongodb_backup_role.yml")]
    cmd += ["-e", json.dumps({"ansible_python_interpreter": str(BIN / "python"), **GOOD, **change})]
    rc, out = ansible_json(cmd)
    assert rc != 0
    tasks = list(task_results(out))
    failed = [r["msg"] for _, r in tasks if r.get("failed")]
    assert len(failed) == 1 and named in failed[0]
    assert not any(r.get("changed") for _, r in tasks)
    assert not os.path.exists("/etc/cron.d/mongodb-backup") and not os.path.exists("/opt/mongodb-backup")


# The cron schedule, checked field by field before any change (cron itself would skip a bad line
# with a syslog message only, and no backup would ever run).
@pytest.mark.parametrize(
    ("schedule", "said"),
    [
        ("0 25 * * *", "hour '25' is outside 0-23"),
        ("60 2 * * *", "minute '60' is outside 0-59"),
        ("0 2 0 * *", "day of month '0' is outside 1-31"),
        ("0 2 * 13 *", "month '13' is outside 1-12"),
        ("0 2 * * 8", "day of week '8' is outside 0-7"),
        ("*/0 2 * * *", "minute step '*/0' must be 1-60"),
        ("0 5-1 * * *", "hour range '5-1' runs backwards"),
        ("*/61 2 * * *", "minute step '*/61' must be 1-60"),
        ("0 2 * JAN-MAX *", "month 'MAX' is not a number or a name"),
        ("0 2 * * MON,TUX", "day of week 'TUX' is not a number or a name"),
        ("0 2 * * FRI/2", "a /step needs * or a range"),
        ("0 MON * * *", "hour 'MON' is not a number"),
        ("0 2 * * * *", "it has 6 fields"),
        ("0 2 1,,2 * *", "day of month '' is not"),
    ],
)
def test_bad_cron_schedule_fails_before_any_change_naming_the_variable(schedule, said):
    test_bad_input_fails_before_any_change({"mongodb_backup_schedule": schedule}, "mongodb_backup_schedule")
    assert said in cron_schedule_problems_msg(schedule)


@pytest.mark.parametrize(
    ("schedule", "said"),
    [
        ("0 4 * * 8", "day of week '8' is outside 0-7"),
        ("0 28 * * SUN", "hour '28' is outside 0-23"),
        ("0 4 * * SUN-MON/9", "day of week step 'SUN-MON/9' must be 1-8"),
    ],
)
def test_bad_drill_schedule_fails_before_any_change_naming_the_variable(schedule, said):
    """The drill's weekly cron entry is checked like the backup's, before any change."""
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(ROOT / "tests/lab/playbooks/mongodb_backup_role.yml")]
    extra = {**GOOD, **DRILL, "mongodb_backup_drill_schedule": schedule}
    cmd += ["-e", json.dumps({"ansible_python_interpreter": str(BIN / "python"), **extra})]
    rc, out = ansible_json(cmd)
    tasks = list(task_results(out))
    (failed,) = [r["msg"] for _, r in tasks if r.get("failed")]
    assert rc != 0 and f"mongodb_backup_drill_schedule '{schedule}' is not a valid cron schedule" in failed
    assert said in failed
    assert not any(r.get("changed") for _, r in tasks)
    assert not os.path.exists("/etc/cron.d/mongodb-backup-drill")


def test_the_engine_gets_the_drill_login_only_with_the_drill_on():
    off = render("{{ mongodb_backup_engine_config }}", mongodb_backup_drill_schedule="")
    assert (off["drill_user"], off["drill_schedule"]) == ("", "")
    on = render("{{ mongodb_backup_engine_config }}", **DRILL, mongodb_backup_drill_schedule="0 4 * * 0")
    assert (on["drill_user"], on["drill_schedule"], on["drill_max_age_days"]) == ("backup-drill", "0 4 * * 0", 7)
    assert on["drill_config"] == "/etc/mongodb-backup/mongorestore-drill.yaml"


def cron_schedule_problems_msg(schedule):
    return "; ".join(cron_schedule_problems(schedule))


def test_alarm_action_of_another_partition_is_refused():
    test_bad_input_fails_before_any_change(
        {
            "mongodb_backup_region": "cn-north-1",
            "mongodb_backup_alarm_actions": ["arn:aws:sns:cn-north-1:123456789012:ops"],
        },
        "mongodb_backup_alarm_actions",
    )


# Role variables as the role computes them, from its own defaults and vars files.
ROLE = ROOT / "roles/mongodb_backup"


def render(expressions, host_facts=None, var_files=("defaults/main.yml", "vars/main.yml"), **extra):
    play = {
        "name": "Render the role's variables",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [str(ROLE / f) for f in var_files],
        "tasks": [{"name": "render", "ansible.builtin.debug": {"msg": expressions}}],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as playbook:
        playbook.write(json.dumps([play]))
    extra = {"ansible_python_interpreter": str(BIN / "python"), **GOOD, **extra}
    if host_facts is not None:
        extra["ansible_facts"] = host_facts
    try:
        rc, out = ansible_json(
            [str(BIN / "ansible-playbook"), "-i", "localhost,", playbook.name, "-e", json.dumps(extra)]
        )
    finally:
        os.unlink(playbook.name)
    assert rc == 0, [r.get("msg") for _, r in task_results(out) if r.get("failed")]
    return dict(task_results(out))["render"]["msg"]


@pytest.mark.parametrize(
    ("extra", "port"),
    [
        ({}, 27017),
        ({"mongodb_port": 27018}, 27018),
        ({"mongodb_port": 27018, "mongodb_backup_mongodb_port": 27019}, 27019),
    ],
    ids=["default", "follows-mongodb_port", "explicit-wins"],
)
def test_backup_port_follows_mongodb_port(extra, port):
    assert render("{{ mongodb_backup_engine_config.mongodb_port }}", **extra) == port


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("us-east-1", "https://tasky-test-bucket.s3.us-east-1.amazonaws.com"),
        ("cn-north-1", "https://tasky-test-bucket.s3.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "https://tasky-test-bucket.s3.us-gov-west-1.amazonaws.com"),
    ],
)
def test_public_urls_use_the_partition_dns_suffix(region, url):
    assert render("{{ mongodb_backup_engine_config.public_base_url }}", mongodb_backup_region=region) == url


@pytest.mark.parametrize("family", ["Debian", "RedHat"])
def test_the_engine_libraries_come_pinned_into_its_venv(family):
    """boto3 and pymongo come from PyPI, pinned, into the engine's venv on every OS family
    (RHEL-compatible 9 needs no EPEL); the OS packages give only python3's venv, cron, logrotate."""
    files = ("defaults/main.yml", "vars/main.yml", f"vars/{family}.yml")
    got = render({"pins": "{{ mongodb_backup_python_packages }}", "packages": "{{ mongodb_backup_packages }}"},
                 host_facts={"os_family": family}, var_files=files)  # fmt: skip
    assert {pin.split("==")[0] for pin in got["pins"]} >= {"boto3", "botocore", "pymongo"}
    assert all("==" in pin for pin in got["pins"])
    assert not any("boto3" in package for package in got["packages"])
