"""Real MongoDB from MongoDB's repository (ONLINE scenario): authentication, least privilege,
and a backup that restores to the same documents."""

import json
import os

import testinfra

HOST = testinfra.get_host("podman://tasky-online-mongodb1")
# The inventory's mongodb_port follows LAB_MONGODB_PORT (make test's lab: 27117).
PORT = int(os.environ.get("LAB_MONGODB_PORT", "27017"))
ADMIN = ("admin", "tasky-lab-admin-password-throwaway")
BACKUP = ("backup", "tasky-lab-backup-password-throwaway")
APP = ("tasky", "tasky-lab-app-password-throwaway", "go-mongodb")


def mongosh(script, user=None, db="admin"):
    auth = f"-u {user[0]} -p {user[1]} --authenticationDatabase {db}" if user else ""
    return HOST.run(f"mongosh --quiet --port {PORT} {auth} --eval {json.dumps(script)}")


def test_mongod_runs_with_authorization():
    assert HOST.service("mongod").is_running and HOST.service("mongod").is_enabled
    refused = mongosh("db.adminCommand({listDatabases: 1})")
    assert refused.rc != 0 and "requires authentication" in refused.stdout + refused.stderr


def test_backup_user_can_read_but_not_write():
    assert mongosh("db.getSiblingDB('go-mongodb').todos.countDocuments({})", BACKUP).rc == 0
    denied = mongosh("db.getSiblingDB('go-mongodb').todos.insertOne({x: 1})", BACKUP)
    assert denied.rc != 0 and "not authorized" in denied.stdout + denied.stderr


def test_backup_restores_the_same_documents():
    insert = (
        "db.getSiblingDB('go-mongodb').todos.insertMany([...Array(50).keys()].map(i => ({_id: i, name: 'task ' + i})))"
    )
    assert mongosh(insert, APP[:2], APP[2]).rc == 0
    assert HOST.run("/opt/mongodb-backup/backup.sh").rc == 0
    assert mongosh("db.getSiblingDB('go-mongodb').todos.drop()", ADMIN).rc == 0
    HOST.run("install -m 0600 /dev/null /root/restore.yaml && echo 'password: %s' > /root/restore.yaml", ADMIN[1])
    restore = HOST.run(
        "/opt/mongodb-backup/venv/bin/python -I -m tasky_backup restore --config /etc/mongodb-backup/backup.json"
        " --key latest --drop --restore-user admin --restore-config /root/restore.yaml"
    )
    assert restore.rc == 0, restore.stderr
    count = mongosh("db.getSiblingDB('go-mongodb').todos.countDocuments({})", ADMIN)
    assert count.stdout.strip() == "50"


DRILL = ("backup-drill", "tasky-lab-drill-password-throwaway")


def test_the_drill_passes_with_least_privilege_and_leaves_no_scratch_database():
    """The drill user has the built-in restore role only: mongorestore into drill_go-mongodb,
    then dropping each scratch collection removes the database without dropDatabase, which
    that role does not grant."""
    assert HOST.run("/opt/mongodb-backup/backup.sh").rc == 0
    drill = HOST.run("/opt/mongodb-backup/backup.sh --drill")
    result = json.loads(drill.stdout)
    assert drill.rc == 0 and result["status"] == "ok" and result["scratch_dropped"] is True, result
    names = mongosh("db.adminCommand({listDatabases: 1}).databases.map(d => d.name).join(',')", ADMIN)
    assert "drill_go-mongodb" not in names.stdout.split(",")
    denied = mongosh("db.getSiblingDB('go-mongodb').dropDatabase()", DRILL)
    assert denied.rc != 0 and "not authorized" in denied.stdout + denied.stderr
