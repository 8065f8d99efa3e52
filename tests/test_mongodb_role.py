"""The mongodb role's input validation and check mode, run by ansible-playbook for real.

Only --check runs and runs that validation must stop: this machine is never changed.
"""

import json
import os

from conftest import BIN, ROOT, ansible_json, task_results

PASSWORDS = {
    "mongodb_admin_password": "test-admin-not-real",
    "mongodb_app_password": "test-app-not-real",
    "mongodb_backup_password": "test-backup-not-real",
}


def play(extra, check=True):
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(ROOT / "tests/playbooks/mongodb_role.yml")]
    cmd += ["-e", json.dumps({"ansible_python_interpreter": str(BIN / "python"), **extra})]
    cmd += ["--check", "--diff"] if check else []
    rc, out = ansible_json(cmd)
    return rc, list(task_results(out))


def failures(tasks):
    return [r["msg"] for _, r in tasks if r.get("failed")]


def test_missing_passwords_fail_before_any_change_naming_them():
    rc, tasks = play({"mongodb_server_install": False}, check=False)
    assert rc != 0
    (msg,) = failures(tasks)
    for name in PASSWORDS:
        assert name in msg
    assert not any(r.get("changed") for _, r in tasks)
    assert not os.path.exists("/etc/mongod.conf")


def test_replica_set_without_keyfile_is_refused():
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, "mongodb_replica_set_name": "rs0"}, check=False)
    assert rc != 0
    assert "mongodb_keyfile_content" in failures(tasks)[0]
    assert not any(r.get("changed") for _, r in tasks)


def test_bad_bind_address_and_type_are_refused():
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, "mongodb_bind_ips": ["not an ip"]}, check=False)
    assert rc != 0 and "mongodb_bind_ips" in failures(tasks)[0]
    rc, tasks = play({**PASSWORDS, "mongodb_port": "twenty"}, check=False)
    assert rc != 0 and "mongodb_port" in failures(tasks)[0]


def test_bootstrap_user_without_its_password_is_refused():
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, "mongodb_bootstrap_user": "setup"}, check=False)
    assert rc != 0 and "mongodb_bootstrap_password" in failures(tasks)[0]
    assert not any(r.get("changed") for _, r in tasks)


def test_check_mode_reports_the_config_and_writes_nothing():
    # Port 9: nothing answers there, as on a fresh host whose server is not installed yet.
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, "mongodb_port": 9})
    assert rc == 0, failures(tasks)
    (skipped,) = [r for name, r in tasks if name.endswith("Say that check mode cannot show the users")]
    assert "no server answers on 127.0.0.1:9" in skipped["msg"]
    (conf,) = [r for name, r in tasks if name.endswith("Write mongod.conf (authorization enabled)")]
    assert conf["changed"] is True
    rendered = conf["diff"][0]["after"]
    assert "authorization: enabled" in rendered and "bindIp: 127.0.0.1" in rendered
    assert not os.path.exists("/etc/mongod.conf")
    assert not any("test-" in json.dumps(r.get("diff", "")) for _, r in tasks)  # no password shown
