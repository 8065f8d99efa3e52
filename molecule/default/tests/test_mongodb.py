"""The mongodb role on the lab host: mongod's configuration, and the users it created on the
host's database server, which in the lab is FerretDB (LAB ONLY, lab/playbooks/mongodb-lab.yml)."""

import pytest
import yaml
from conftest import ADMIN, APP, BACKUP, BOOTSTRAP, DRILL, MONGODB_PORT, mongo_client
from pymongo.errors import OperationFailure

LAB_PASSWORDS = (
    "tasky-lab-admin-password",
    "tasky-lab-app-password",
    "tasky-lab-backup-password",
    "tasky-lab-bootstrap-password",
    "tasky-lab-drill-password",
)


def test_mongod_conf_enables_authorization(lab_host):
    conf_file = lab_host.file("/etc/mongod.conf")
    assert (conf_file.user, conf_file.mode) == ("root", 0o644)
    conf = yaml.safe_load(conf_file.content_string)
    assert conf["security"]["authorization"] == "enabled"
    assert conf["net"]["bindIp"].split(",")[0] == "127.0.0.1" and conf["net"]["port"] == MONGODB_PORT
    assert conf["systemLog"]["path"] == "/var/log/mongodb/mongod.log"
    assert conf["systemLog"]["logRotate"] == "reopen"
    assert conf["storage"]["dbPath"] == "/var/lib/mongodb"
    assert "replication" not in conf and not lab_host.file("/etc/mongod.keyfile").exists


def test_mongod_unit_override_raises_the_open_files_limit(lab_host):
    override = lab_host.file("/etc/systemd/system/mongod.service.d/limits.conf")
    assert "LimitNOFILE=64000" in override.content_string


def test_mongod_log_rotation_reopens_instead_of_truncating(lab_host):
    lines = lab_host.file("/etc/logrotate.d/mongod").content_string.splitlines()
    directives = [line.strip() for line in lines if not line.startswith("#")]
    assert any("SIGUSR1" in line for line in directives) and "copytruncate" not in directives
    result = lab_host.run("logrotate -d /etc/logrotate.d/mongod")
    assert result.rc == 0, result.stderr


def test_no_password_outside_the_root_only_credentials_files(lab_host):
    hits = lab_host.run("grep -rlF -e %s -e %s -e %s -e %s -e %s /etc /opt /var/log", *LAB_PASSWORDS).stdout.split()
    # The backup's mongodump --config file, the drill's mongorestore --config file, and
    # FerretDB's setup password (LAB ONLY).
    assert sorted(hits) == [
        "/etc/ferretdb/ferretdb.env",
        "/etc/mongodb-backup/mongodump.yaml",
        "/etc/mongodb-backup/mongorestore-drill.yaml",
    ]
    for path in hits:
        f = lab_host.file(path)
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600), path


def test_the_database_is_ferretdb_run_as_its_own_user_not_mongod(lab_host):
    service = lab_host.service("ferretdb")
    assert service.is_running and service.is_enabled
    (process,) = lab_host.process.filter(comm="ferretdb")
    assert process.user == "ferretdb"
    assert (
        f"--listen-addr=127.0.0.1:{MONGODB_PORT}" in process.args
        and "--sqlite-url=file:/var/lib/mongodb/" in process.args
    )
    assert "password" not in process.args.lower()
    data = lab_host.file("/var/lib/mongodb")
    assert (data.user, data.mode) == ("ferretdb", 0o750)  # the mongodb role left its owner alone
    assert lab_host.run("ferretdb --version").stdout.startswith("version: v1.24.2")
    assert not lab_host.package("mongodb-org").is_installed


def test_real_mongodb_tools_where_the_packages_put_them(lab_host):
    for tool in ("mongodump", "mongorestore"):
        out = lab_host.run(f"/usr/bin/{tool} --version")
        assert out.rc == 0 and out.stdout.splitlines()[0] == f"{tool} version: 100.11.0"


def test_unauthenticated_commands_are_refused():
    with mongo_client() as anonymous, pytest.raises(OperationFailure) as refused:
        anonymous.admin.command("listDatabases")
    assert refused.value.code == 13  # Unauthorized


def test_wrong_password_is_refused():
    with mongo_client((APP[0], "not-the-password", APP[2])) as client, pytest.raises(OperationFailure) as refused:
        client.admin.command("ping")
    assert refused.value.code == 18  # AuthenticationFailed


def test_the_role_created_its_four_users_and_they_log_in(mongo_admin):
    """The admin, the application's, the backup's and (the lab turns the drill on) the restore
    drill's user."""
    made = {(ADMIN[0], "admin"), (APP[0], "go-mongodb"), (BACKUP[0], "admin"), (DRILL[0], "admin")}
    users = {(u["user"], u["db"]) for u in mongo_admin.admin.command("usersInfo", {"forAllDBs": True})["users"]}
    assert made <= users
    assert users - made == {(BOOTSTRAP[0], "admin")}
    for login in (ADMIN, APP, BACKUP, DRILL):
        with mongo_client(login) as client:
            assert client.admin.command("ping")["ok"] == 1.0
