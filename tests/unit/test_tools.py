"""mongo/tools.py: mongorestore's counts read from its last line, and the tools' command lines,
which carry the --config file of the password and never the password itself. Nothing is run."""

from tasky_backup.mongo.tools import connection_args, mongodump_archive_command, restore_counts

WORD = "s3cr3t-not-in-argv"


def test_mongorestore_counts_are_read_from_its_last_line():
    line = "2026-11-26T03:00:00.000+0000\t7 document(s) restored successfully. 3 document(s) failed to restore.\n"
    assert restore_counts("noise\n" + line) == (7, 3)
    assert restore_counts("no summary line") == (0, 0)


def test_the_last_summary_line_counts():
    first = "1 document(s) restored successfully. 9 document(s) failed to restore.\n"
    last = "2026-11-26T03:00:01.000+0000\t1250 document(s) restored successfully. 0 document(s) failed to restore.\n"
    assert restore_counts(first + "more noise\n" + last) == (1250, 0)


def test_connection_args_name_the_config_file_not_the_password(settings_in, tmp_path):
    config = tmp_path / "mongodump.yaml"
    config.write_text(f"password: {WORD}\n")
    settings = settings_in(mongodb_host="10.0.0.5", mongodb_port=27018, mongodb_user="backup")
    args = connection_args(settings)
    assert args == [
        "--host=10.0.0.5",
        "--port=27018",
        "--username=backup",
        "--authenticationDatabase=admin",
        f"--config={config}",
    ]
    drill = connection_args(settings, "backup-drill", "/etc/mongodb-backup/mongorestore-drill.yaml")
    assert drill[2] == "--username=backup-drill" and drill[-1] == "--config=/etc/mongodb-backup/mongorestore-drill.yaml"
    for cmd in (args, drill, mongodump_archive_command(settings.replace(oplog=True), ["tasky"])):
        assert not [arg for arg in cmd if WORD in arg or arg.startswith(("--password", "-p"))]


def test_the_archive_command_dumps_what_the_filter_needs(settings_in):
    settings = settings_in(mongodump_path="/usr/bin/mongodump", parallel_collections=2)
    one = mongodump_archive_command(settings, ["tasky"])
    assert one[0] == "/usr/bin/mongodump" and one[-3:] == ["--archive", "--numParallelCollections=2", "--db=tasky"]
    assert mongodump_archive_command(settings, ["tasky", "crm"])[-1] == "--numParallelCollections=2"  # whole server
    assert mongodump_archive_command(settings.replace(oplog=True), ["tasky"])[-1] == "--oplog"
