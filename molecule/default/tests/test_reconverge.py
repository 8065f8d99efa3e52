"""A second converge with changed inputs, on the converged lab host, as an operator would run it:
a rotated backup password reaches both the MongoDB user and mongodump.yaml; a replica set
keyfile is written root-only 0400; a changed mongod.conf notifies the restart handler. The
host is converged back to the scenario's inputs at the end (this file runs last).

(The lab host runs FerretDB, not mongod: the handler is notified and skipped, since the role
does not install the server there; mongod restarting is shown only by molecule/online.)
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import BACKUP, HOST_NAME, mongo_client, run_ansible
from pymongo.errors import OperationFailure

ROLE = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "roles/mongodb_backup")
ROTATED = "tasky-lab-backup-password-rotated-throwaway"
KEYFILE = "dGFza3ktbGFiLWtleWZpbGUtdGhyb3dhd2F5LW5vdC1hLXNlY3JldA=="


def converge(playbook="site.yml", expect_rc=0, **extra):
    """A playbook (site.yml) on the lab host only, with extra vars; returns {task name: result}."""
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    proc = run_ansible(
        ["ansible-playbook", "-i", inventory, str(playbook), "--limit", HOST_NAME, "-e", json.dumps(extra)]
    )
    out = json.loads(proc.stdout)
    results = {}
    for play in out["plays"]:
        for task in play["tasks"]:
            if HOST_NAME in task["hosts"]:
                results.setdefault(task["task"]["name"], task["hosts"][HOST_NAME])
    assert proc.returncode == expect_rc, [r.get("msg") for r in results.values() if r.get("failed")]
    return results


def logs_in(password):
    client = mongo_client((BACKUP[0], password, BACKUP[2]))
    try:
        client.admin.command("ping")
        return True
    except OperationFailure:
        return False
    finally:
        client.close()


def test_a_setting_the_engine_would_refuse_fails_the_converge_not_the_nights(lab_host, tmp_path):
    """The engine checks backup.json before the role puts it in place: a value out of its range
    fails the converge, naming it, and the working configuration stays."""
    before = lab_host.file("/etc/mongodb-backup/backup.json").content_string
    playbook = tmp_path / "backup-role.yml"
    playbook.write_text(
        json.dumps([{"name": "backup role", "hosts": "mongodb", "become": True, "roles": ["mongodb_backup"]}])
    )
    results = converge(playbook, expect_rc=2, mongodb_backup_s3_patience_s=9999)
    (failed,) = [r for r in results.values() if r.get("failed")]
    assert "s3_patience_s must be an integer from 0 to 3600" in json.dumps(failed)
    assert lab_host.file("/etc/mongodb-backup/backup.json").content_string == before


@pytest.fixture(scope="module")
def reconverged(lab_host):
    results = converge(
        mongodb_backup_password=ROTATED,
        mongodb_replica_set_name="rs-lab",
        mongodb_keyfile_content=KEYFILE,
        mongodb_backup_oplog=False,  # FerretDB keeps no oplog
    )
    yield results
    converge()
    assert logs_in(BACKUP[1]) and not logs_in(ROTATED)
    # Back to a standalone server: latest was written as the replica set's, taken over once.
    assert lab_host.run("/opt/mongodb-backup/backup.sh --accept-other-writer").rc == 0


def test_a_rotated_backup_password_reaches_the_user_and_mongodump_yaml(lab_host, reconverged, seeded):
    assert task(reconverged, "Set the rotated password of a user whose old one is still in place")["changed"]
    assert logs_in(ROTATED) and not logs_in(BACKUP[1])
    # The host now writes as replica set rs-lab, and latest is its standalone self's: refused,
    # naming both, until taken over once.
    refused = lab_host.run("/opt/mongodb-backup/backup.sh")
    assert refused.rc == 1 and "not by this host (replica set rs-lab)" in refused.stdout, refused.stdout
    run = lab_host.run("/opt/mongodb-backup/backup.sh --accept-other-writer")
    assert run.rc == 0, run.stdout


def test_the_replica_set_keyfile_is_root_only_read_only(lab_host, reconverged):
    keyfile = lab_host.file("/etc/mongod.keyfile")
    assert (keyfile.user, keyfile.group, keyfile.mode) == ("root", "root", 0o400)
    assert "replSetName: rs-lab" in lab_host.file("/etc/mongod.conf").content_string


def task(results, name):
    (found,) = [r for task_name, r in results.items() if task_name.endswith(name)]
    return found


def test_a_changed_mongod_conf_notifies_the_restart_handler(reconverged):
    assert task(reconverged, "Write mongod.conf (authorization enabled)")["changed"] is True
    # Notified, and skipped: the role does not run mongod where it did not install it.
    assert task(reconverged, "Restart mongod").get("skipped") is True


def test_an_engine_installed_in_an_earlier_form_is_replaced_with_no_stray_file(lab_host, tmp_path):
    """Hosts converged by earlier releases hold the engine file by file in
    /opt/mongodb-backup/tasky_backup/, or an earlier wheel with modules this one no longer has:
    a converge leaves exactly the current package, and a second one sends nothing."""
    old_form = "/opt/mongodb-backup/tasky_backup"
    lab_host.run(f"mkdir -p {old_form} && echo 'x = 1' > {old_form}/store.py")
    engine = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "module_utils/tasky_backup")
    older = tmp_path / "tasky_backup"
    subprocess.run(["cp", "-r", engine, str(older)], check=True)
    (older / "obsolete_module.py").write_text('"""A module an earlier release had."""\n')
    build = subprocess.run(
        [sys.executable, os.path.join(ROLE, "files/engine_wheel.py"), str(older), str(tmp_path / "wheels")],
        capture_output=True,
        text=True,
        check=True,
    )
    wheel = json.loads(build.stdout)["wheel"]
    subprocess.run(["podman", "cp", wheel, f"{HOST_NAME}:/root/"], check=True)
    pip = "/opt/mongodb-backup/venv/bin/pip install -q --no-deps --no-index"
    installed = lab_host.run(f"{pip} /root/{os.path.basename(wheel)}")
    assert installed.rc == 0, installed.stderr
    assert lab_host.run("find /opt/mongodb-backup/venv -name obsolete_module.py").stdout.strip()

    results = converge()
    assert task(results, "Install the engine's wheel (module_utils/tasky_backup) into its venv")["changed"]
    assert not lab_host.run("find /opt/mongodb-backup/venv -name 'obsolete_module*'").stdout.strip()
    assert not lab_host.file("/opt/mongodb-backup/tasky_backup").exists
    assert lab_host.run("/opt/mongodb-backup/status-check.sh").rc in (0, 1)  # the engine runs
    again = converge()
    assert task(again, "Install the engine's wheel (module_utils/tasky_backup) into its venv").get("skipped")
