"""The mongodb role's input validation and check mode, run by ansible-playbook for real.

Only --check runs and runs that validation must stop: this machine is never changed.
"""

import json
import os

import pytest
import yaml
from conftest import BIN, ROOT, ansible_json, task_results

PASSWORDS = {
    "mongodb_admin_password": "test-admin-not-real",
    "mongodb_app_password": "test-app-not-real",
    "mongodb_backup_password": "test-backup-not-real",
}


def play(extra, check=True):
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(ROOT / "tests/lab/playbooks/mongodb_role.yml")]
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


def test_the_drill_user_needs_its_password_only_with_the_drill_on():
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, "mongodb_backup_drill_enabled": True}, check=False)
    assert rc != 0
    (msg,) = failures(tasks)
    assert "mongodb_backup_drill_password" in msg and "mongodb_admin_password" not in msg
    assert not any(r.get("changed") for _, r in tasks)
    # Off (the default), no password is asked for, and check mode names three users.
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, "mongodb_port": 9})
    assert rc == 0, failures(tasks)
    (said,) = [r["msg"] for name, r in tasks if name.endswith("Say that check mode cannot show the users")]
    assert "drill" not in said
    drill = {"mongodb_backup_drill_enabled": True, "mongodb_backup_drill_password": "test-drill-not-real"}
    rc, tasks = play({**PASSWORDS, **drill, "mongodb_server_install": False, "mongodb_port": 9})
    assert rc == 0, failures(tasks)
    (said,) = [r["msg"] for name, r in tasks if name.endswith("Say that check mode cannot show the users")]
    assert "and the restore drill user backup-drill" in said


def test_replica_set_without_keyfile_is_refused():
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, "mongodb_replica_set_name": "rs0"}, check=False)
    assert rc != 0
    assert "mongodb_keyfile_content" in failures(tasks)[0]
    assert not any(r.get("changed") for _, r in tasks)


def test_a_member_address_mongod_does_not_listen_on_is_refused():
    """Refused before anything (the set is initiated later), naming the address; a bound address
    or a host name passes the check (a missing bootstrap password, checked next, ends the play
    there: nothing is installed on this machine)."""
    replica_set = {**PASSWORDS, "mongodb_replica_set_name": "rs0"}
    replica_set["mongodb_keyfile_content"] = "c2VjcmV0LWtleWZpbGUtbm90LXJlYWw="  # not a real one
    member = {**replica_set, "mongodb_replica_set_member": "10.20.30.40:27017"}
    rc, tasks = play({**member, "mongodb_bind_ips": ["10.20.30.41"]}, check=False)
    assert rc != 0
    (msg,) = failures(tasks)
    assert "mongodb_replica_set_member 10.20.30.40:27017: mongod does not listen on 10.20.30.40" in msg
    assert not any(r.get("changed") for _, r in tasks)
    stop_next = {"mongodb_bootstrap_user": "bootstrap"}
    bound = {**member, **stop_next, "mongodb_bind_ips": ["10.20.30.40"]}
    named = {**replica_set, **stop_next, "mongodb_replica_set_member": "db1.internal:27017"}
    for passing in (bound, named):
        rc, tasks = play(passing, check=False)
        (checked,) = [
            r for name, r in tasks if name.endswith("Check mongod listens on the address of mongodb_replica_set_member")
        ]
        assert not checked.get("failed") and not checked.get("skipped"), checked
        assert "mongodb_bootstrap_password is required" in failures(tasks)[0]


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


@pytest.mark.parametrize(
    ("paths", "named"),
    [
        ({"mongodb_log_path": "/var/log/mongod.log"}, "mongodb_log_path /var/log/mongod.log"),
        ({"mongodb_data_path": "/var/lib"}, "mongodb_data_path /var/lib"),
        ({"mongodb_data_path": "/var/lib/"}, "mongodb_data_path /var/lib/"),
    ],
)
def test_a_shared_directory_is_never_made_mongods(paths, named):
    """The role makes the data directory and the log file's directory mongod's own: a path that
    would chown /var/log or /var/lib is refused before any change."""
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, **paths}, check=False)
    assert rc != 0
    (msg,) = failures(tasks)
    assert named in msg and "shared directory" in msg
    assert not any(r.get("changed") for _, r in tasks)


def test_an_architecture_mongodb_does_not_publish_is_refused():
    """MongoDB publishes Debian 12 packages for x86_64 only: an arm64 Debian 12 host fails first."""
    rc, tasks = play({**PASSWORDS, "mongodb_architecture": "aarch64"}, check=False)
    assert rc != 0
    (msg,) = failures(tasks)
    assert "not for Debian 12 on aarch64" in msg and "Debian 12 on x86_64" in msg
    assert not any(r.get("changed") for _, r in tasks)


@pytest.mark.parametrize(
    ("chosen", "named"),
    [
        ({"mongodb_version": "7.0", "mongodb_platform": "Ubuntu 24"}, "MongoDB 7.0 publishes Community Server"),
        ({"mongodb_version": "6.0"}, "mongodb_version 6.0 is not a series this role installs: one of 7.0, 8.0"),
    ],
)
def test_a_series_mongodb_does_not_publish_for_the_platform_is_refused(chosen, named):
    """7.0 has no Ubuntu 24.04 packages (8.0 has): refused before any change, naming both."""
    rc, tasks = play({**PASSWORDS, **chosen}, check=False)
    assert rc != 0
    (msg,) = failures(tasks)
    assert named in msg and chosen.get("mongodb_platform", "Debian 12") in msg
    assert not any(r.get("changed") for _, r in tasks)
    if "mongodb_platform" in chosen:  # 7.0's list has Ubuntu 22 but not 24
        assert "Ubuntu 22 on x86_64/aarch64" in msg and "not for Ubuntu 24 on" in msg and msg.count("Ubuntu 24") == 1


def test_ipv6_bind_addresses_turn_on_net_ipv6():
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False, "mongodb_bind_ips": ["fd00::10"]})
    assert rc == 0, failures(tasks)
    (conf,) = [r for name, r in tasks if name.endswith("Write mongod.conf (authorization enabled)")]
    rendered = yaml.safe_load(conf["diff"][0]["after"])
    assert rendered["net"]["ipv6"] is True and rendered["net"]["bindIp"] == "127.0.0.1,fd00::10"
    rc, tasks = play({**PASSWORDS, "mongodb_server_install": False})
    (conf,) = [r for name, r in tasks if name.endswith("Write mongod.conf (authorization enabled)")]
    assert "ipv6" not in yaml.safe_load(conf["diff"][0]["after"])["net"]


def test_a_directory_holding_other_owners_files_is_never_made_mongods(tmp_path):
    """Beyond the usual shared directories: a log directory other programs already write to
    (here one holding another service's log, owned by root) is refused before any change; an
    empty one (a fresh mount point) passes this check."""
    shared = tmp_path / "apps"
    shared.mkdir()
    (shared / "other-service.log").write_text("not mongod's\n")
    rc, tasks = play({**PASSWORDS, "mongodb_log_path": f"{shared}/mongod.log"}, check=False)
    assert rc != 0
    (msg,) = failures(tasks)
    assert f"{shared}/other-service.log belong to others" in msg and "give mongod its own directory" in msg
    assert not any(r.get("changed") for _, r in tasks)
    assert (shared / "other-service.log").stat().st_uid == 0 and oct(shared.stat().st_mode)[-3:] != "750"

    fresh = tmp_path / "fresh-volume"
    (fresh / "lost+found").mkdir(parents=True)
    # --check; it stops later, at MongoDB's repository key, which this machine cannot fetch.
    _rc, tasks = play({**PASSWORDS, "mongodb_data_path": str(fresh), "mongodb_port": 9})
    (checked,) = [
        r for name, r in tasks if name.endswith("Check the data and log directories hold nothing of another owner")
    ]
    assert not checked.get("failed") and not checked.get("skipped"), checked


def rendered(family, expression, **role_vars):
    """expression as the role computes it for an OS family, from its defaults and vars files (a
    check of what is rendered: the lab installs no MongoDB packages, and has no SELinux host)."""
    role = ROOT / "roles/mongodb"
    play = {
        "name": "Render",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [str(role / f) for f in ("defaults/main.yml", "vars/main.yml", f"vars/{family}.yml")],
        "tasks": [{"name": "render", "ansible.builtin.debug": {"msg": expression}}],
    }
    playbook = ROOT / ".lab" / f"render-mongodb-{family}.yml"
    playbook.parent.mkdir(exist_ok=True)
    playbook.write_text(json.dumps([play]))
    extra = {"ansible_python_interpreter": str(BIN / "python"), "ansible_facts": {"os_family": family}, **role_vars}
    rc, out = ansible_json([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook), "-e", json.dumps(extra)])
    assert rc == 0
    return dict(task_results(out))["render"]["msg"]


def rendered_install_packages(family, version):
    return rendered(family, "{{ mongodb_install_packages }}", mongodb_package_version=version)


@pytest.mark.parametrize(("family", "sep"), [("Debian", "="), ("RedHat", "-")])
def test_a_package_version_pins_every_component(family, sep):
    """Pinning mongodb-org alone lets apt or dnf pick the newest server under it: each component
    MongoDB's install pages name is pinned, and held (tasks/setup-*.yml)."""
    components = ["mongodb-org", "mongodb-org-database", "mongodb-org-server", "mongodb-org-mongos"]
    components.append("mongodb-org-tools")
    assert rendered_install_packages(family, "8.0.4") == [f"{name}{sep}8.0.4" for name in components]
    assert rendered_install_packages(family, "") == ["mongodb-org"]
    tasks = yaml.safe_load((ROOT / f"roles/mongodb/tasks/setup-{family}.yml").read_text())
    if family == "Debian":
        (hold,) = [t for t in tasks if "ansible.builtin.dpkg_selections" in t]
        assert hold["loop"] == "{{ mongodb_component_packages }}"
        assert hold["ansible.builtin.dpkg_selections"]["selection"].startswith("{{ 'hold' if mongodb_package_version")
    else:
        (lock,) = [t for t in tasks if t.get("community.general.dnf_versionlock", {}).get("state") == "present"]
        assert lock["community.general.dnf_versionlock"]["name"] == "{{ mongodb_install_packages }}"


def rendered_redhat(expression, **role_vars):
    return rendered("RedHat", expression, **role_vars)


def test_selinux_types_for_custom_paths_and_port():
    """A check of what is rendered (no SELinux here): the packages' own paths and port need
    nothing; custom ones get mongod's types, the data directory without its trailing slash."""
    expression = {"files": "{{ mongodb_selinux_file_contexts }}", "ports": "{{ mongodb_selinux_ports }}"}
    assert rendered_redhat(expression) == {"files": [], "ports": []}
    custom = rendered_redhat(
        expression, mongodb_data_path="/data/mongo/", mongodb_log_path="/data/log/mongod.log", mongodb_port=27018
    )
    assert custom == {
        "files": [
            {"path": "/data/mongo", "setype": "mongod_var_lib_t"},
            {"path": "/data/log", "setype": "mongod_log_t"},
        ],
        "ports": [27018],
    }
    tasks = yaml.safe_load((ROOT / "roles/mongodb/tasks/selinux.yml").read_text())
    modules = [name for task in tasks for name in task if name.startswith(("community.", "ansible."))]
    assert modules == [
        "ansible.builtin.dnf",
        "community.general.sefcontext",
        "ansible.builtin.command",
        "community.general.seport",
    ]
