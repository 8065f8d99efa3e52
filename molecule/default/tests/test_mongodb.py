"""The mongodb role on the lab host: everything but the MongoDB packages and server."""

import yaml

LAB_PASSWORDS = ("tasky-lab-admin-password", "tasky-lab-app-password", "tasky-lab-backup-password")


def test_mongod_conf_enables_authorization(lab_host):
    conf_file = lab_host.file("/etc/mongod.conf")
    assert (conf_file.user, conf_file.mode) == ("root", 0o644)
    conf = yaml.safe_load(conf_file.content_string)
    assert conf["security"]["authorization"] == "enabled"
    assert conf["net"]["bindIp"].split(",")[0] == "127.0.0.1" and conf["net"]["port"] == 27017
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


def test_no_password_outside_the_root_only_credentials_file(lab_host):
    hits = lab_host.run("grep -rlF -e %s -e %s -e %s /etc /opt /var/log", *LAB_PASSWORDS).stdout.split()
    assert hits == ["/etc/mongodb-backup/mongodump.yaml"]


def test_lab_host_has_the_stand_in_not_mongodb(lab_host):
    assert "TEST FIXTURE" in lab_host.file("/usr/local/bin/mongodump").content_string
    assert not lab_host.package("mongodb-org").is_installed
